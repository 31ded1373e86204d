"""Lists read from policies/reference/ for code that needs them outside the build (the scrapers'
extractor): read from the files, never copied into code."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

POLICIES = Path(__file__).resolve().parent.parent / "policies"
CODES_FILE = Path("reference") / "codes.yml"  # the NOC drug codes payerkb tracks


@cache
def noc_codes(policies: Path = POLICIES) -> tuple[str, ...]:
    """The HCPCS NOC drug codes of policies/reference/codes.yml, in the file's order."""
    data = yaml.load((Path(policies) / CODES_FILE).read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    return tuple(str(entry["code"]) for entry in data.get("codes", []))
