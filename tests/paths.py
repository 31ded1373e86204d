"""Where the tests find the checkout's files: the shipped policies/ and metadata.yml, and the
tests' own fixtures (import these; never import conftest)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
METADATA = ROOT / "metadata.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
