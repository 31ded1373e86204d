"""Database and search index are one unit (issue 14): a build killed at any moment leaves a
database whose own build id names an index that is there and opens, and the next build clears
what the killed one left; a rebuild under a running server never pairs a database with another
build's index."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.build import build
from db.search_index import IndexFiles, index_path, index_root, read_build_id

ROOT = Path(__file__).resolve().parent.parent
SMALL_PAYER = (Path(__file__).parent / "fixtures" / "test_good_payer.yml").read_text()


@pytest.fixture()
def small(tmp_path) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "reference", policies / "reference")
    (policies / "groups").mkdir()
    (policies / "payers").mkdir()
    (policies / "payers" / "test-good.yml").write_text(SMALL_PAYER)
    return policies


def assert_pair_is_whole(db: Path) -> str:
    build_id = read_build_id(db)
    assert build_id, "the database carries no build id"
    folder = index_path(db)
    assert folder == index_root(db) / build_id and folder.is_dir(), f"no index for build {build_id}"
    files = IndexFiles(folder)
    try:
        assert files.meta["build_id"] == build_id and files.doc_count > 0
        assert files.built_from(db)
    finally:
        files.close()
    return build_id


def _build_cmd(policies: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "payerkb.cli", "build", "--policies", str(policies), "--out", str(out)]


def test_each_build_files_its_index_under_its_own_id_and_keeps_the_previous_one(small, tmp_path):
    out = tmp_path / "db" / "payerkb.db"
    first = build(small, out)
    a = assert_pair_is_whole(first.path)
    build(small, out)
    b = assert_pair_is_whole(out)
    build(small, out)
    c = assert_pair_is_whole(out)
    assert len({a, b, c}) == 3
    assert sorted(p.name for p in index_root(out).iterdir()) == sorted([b, c])  # this build and the one before


@pytest.mark.slow
def test_a_build_killed_at_any_point_leaves_database_and_index_agreeing(small, tmp_path):
    out = tmp_path / "db" / "payerkb.db"
    build(small, out)
    started = time.monotonic()
    subprocess.run(_build_cmd(small, out), cwd=ROOT, check=True, capture_output=True)
    whole = time.monotonic() - started
    kills = 0
    for k in range(1, 15):
        delay = whole * k / 13  # from start-up to just past the end of a build
        proc = subprocess.Popen(_build_cmd(small, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        assert_pair_is_whole(out)
    assert kills >= 8, f"only {kills} builds were still running when killed"
    # the next build clears whatever the killed ones left behind
    build(small, out)
    assert_pair_is_whole(out)
    assert not list(out.parent.glob("payerkb.db.tmp-*"))
    leftovers = [p.name for p in index_root(out).iterdir()]
    assert len(leftovers) <= 2 and not any(".tmp-" in name for name in leftovers), leftovers


async def test_search_follows_the_database_it_serves_across_a_rebuild(small, tmp_path, metadata):
    from sites import datasette

    out = tmp_path / "served" / "payerkb.db"
    build(small, out)
    ds = datasette([out], metadata=metadata, settings={})
    before = (await ds.client.get("/-/search.json?q=invoice")).json()
    assert before["available"] and [h["payer_name"] for h in before["hits"]] == ["Test Health Plan"]

    renamed = SMALL_PAYER.replace("name: Test Health Plan", "name: Renamed Health Plan")
    (small / "payers" / "test-good.yml").write_text(renamed)
    build(small, out)  # replaces the file under the running instance
    after = (await ds.client.get("/-/search.json?q=invoice")).json()
    assert after["available"] and [h["payer_name"] for h in after["hits"]] == ["Renamed Health Plan"]


def test_an_index_step_that_fails_changes_neither_database_nor_index(small, tmp_path, monkeypatch):
    out = tmp_path / "db" / "payerkb.db"
    build(small, out)
    good = assert_pair_is_whole(out)
    before = out.read_bytes()
    from db import search_index

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(search_index.index, "create_in", broken)
    with pytest.raises(Exception, match="disk full"):
        build(small, out)
    assert out.read_bytes() == before and assert_pair_is_whole(out) == good
