"""The small drug knowledge base of tests/fixtures/drugs_policies/, built once per test module
with the CMS crosswalk step and the search index (shared by tests/test_drugs_*.py)."""
from __future__ import annotations

from pathlib import Path

DRUG_POLICIES = Path(__file__).resolve().parent / "fixtures" / "drugs_policies"


def build_drug_fixture(out: Path) -> Path:
    from db import cms_tables, drug_tables
    from db.build import build
    from db.search_index import build_search_index

    build(DRUG_POLICIES, out, extra_steps=[cms_tables.load_cms_tables, drug_tables.match_crosswalk])
    build_search_index(out)
    return out


def datasette_for(path: Path, metadata: dict):
    from sites import datasette

    return datasette([path], metadata=metadata)
