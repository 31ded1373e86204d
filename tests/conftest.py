"""Shared fixtures: the knowledge base built once from the real policies/, and a Datasette on it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from paths import METADATA, POLICIES, reference_only_tree


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A browser test without Debian's chromium skips (one reason, listed once in the summary),
    or fails where PAYERKB_REQUIRE_BROWSER=1 (.ci/run): tests/servers.py chromium_or_skip."""
    if item.get_closest_marker("browser") is not None:
        from servers import chromium_or_skip

        chromium_or_skip()


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    """db built from the shipped policies/ (database name: payerkb)."""
    from db.build import build

    out = tmp_path_factory.mktemp("built") / "payerkb.db"
    build(POLICIES, out)
    return out


@pytest.fixture(scope="session")
def metadata() -> dict:
    return yaml.safe_load(METADATA.read_text())


@pytest.fixture(scope="session")
def ds(built_db, metadata):
    """An in-process Datasette on the shipped knowledge base, with payerkb serve's settings."""
    from payerkb.settings import SERVE_SETTINGS
    from sites import datasette

    return datasette([built_db], metadata=metadata, settings={**SERVE_SETTINGS, "suggest_facets": False})


@pytest.fixture()
def policies_copy(tmp_path) -> Path:
    """A private copy of policies/ that a test may break."""
    dest = tmp_path / "policies"
    shutil.copytree(POLICIES, dest)
    return dest


@pytest.fixture()
def policies_reference_only(tmp_path) -> Path:
    """A policies/ tree with the shipped reference/ vocabulary and no payers, groups or drugs:
    a test adds the files it is about, and validating it costs a fraction of the whole tree."""
    return reference_only_tree(tmp_path)
