"""Where the tests find the checkout's files: the shipped policies/ and metadata.yml, and the
tests' own fixtures (import these; never import conftest); the shipped policies/ loaded once."""
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
METADATA = ROOT / "metadata.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@lru_cache(maxsize=1)
def shipped_policies():
    """db.validate.load_policies(POLICIES), loaded once per test process: (policies, problems).
    Read it; never change it."""
    from db.validate import load_policies

    return load_policies(POLICIES)


def reference_only_tree(root: Path) -> Path:
    """root/policies with the shipped reference/ vocabulary and an empty payers/: a test adds the
    files it is about (validating and building it costs a fraction of the whole tree)."""
    import shutil

    dest = root / "policies"
    shutil.copytree(POLICIES / "reference", dest / "reference")
    (dest / "payers").mkdir()
    return dest
