"""Injected faults: a build killed half-way, a damaged search index, a network that drops mid-scrape.

In each case the last good data stays and keeps being served, and what went wrong is said clearly.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner

from db.build import build
from payerkb.cli import cli

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"

SMALL_PAYER = (Path(__file__).parent / "fixtures" / "test_good_payer.yml").read_text()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """A one-payer knowledge base over the real reference/, and its database (with search index)."""
    root = tmp_path_factory.mktemp("faults")
    policies = root / "policies"
    shutil.copytree(POLICIES / "reference", policies / "reference")
    (policies / "groups").mkdir()
    (policies / "payers").mkdir()
    (policies / "payers" / "test-good.yml").write_text(SMALL_PAYER)
    db = root / "built" / "payerkb.db"
    build(policies, db)
    return policies, db


def _serve_check(db: Path, metadata: dict) -> list[str]:
    """The payer ids Datasette serves from db (through its test client)."""
    import asyncio

    from sites import datasette

    ds = datasette([db], metadata=metadata, settings={})
    r = asyncio.run(ds.client.get("/payerkb/payers.json?_shape=array"))
    assert r.status_code == 200, r.text[:300]
    return [row["id"] for row in r.json()]


# --- a build killed with SIGKILL half-way ----------------------------------------------------

@pytest.mark.slow
def test_build_killed_half_way_leaves_the_previous_database_serving(small, tmp_path, metadata):
    from payerkb.dev.synthetic import generate

    policies, good = small
    out = tmp_path / "db" / "payerkb.db"
    out.parent.mkdir()
    shutil.copyfile(good, out)
    before = sha(out)
    big = generate(120, tmp_path / "big" / "policies")  # writing takes about a second: time to kill it

    proc = subprocess.Popen([sys.executable, "-m", "payerkb.cli", "build", "--policies", str(big), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while True:  # validation first; the temporary database appears once writing starts
            tmp = [p for p in out.parent.glob("payerkb.db.tmp-*") if p.stat().st_size > 0]
            if tmp:
                break
            assert proc.poll() is None, "the build ended before it could be killed: use a bigger tree"
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list(out.parent.glob("payerkb.db.tmp-*")), "nothing was left half-written: the kill came too late"

    assert sha(out) == before, "the killed build touched the previous database"
    conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    conn.close()
    assert _serve_check(out, metadata) == ["test-good"]

    result = CliRunner().invoke(cli,
                                ["build", "--policies", str(policies), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert list(out.parent.glob("payerkb.db.tmp-*")) == [], "the next build did not clean up the leftover"
    assert _serve_check(out, metadata) == ["test-good"]


# --- a missing or damaged search index --------------------------------------------------------

def _index_path(db: Path) -> Path:
    from db import search_index
    return search_index.index_path(db)


def _copy_with_index(small, dest: Path) -> tuple[Path, Path]:
    _, good = small
    idx = _index_path(good)
    assert idx.is_dir(), f"the build wrote no search index at {idx}"
    db = dest / good.name
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(good, db)
    shutil.copytree(idx, _index_path(db))
    return db, _index_path(db)


def _missing(idx: Path) -> None:
    shutil.rmtree(idx)


def _garbled(idx: Path) -> None:
    for f in idx.iterdir():
        if f.is_file():
            f.write_bytes(b"\x00garbage\xff" * 7)


def _truncated(idx: Path) -> None:
    for f in idx.iterdir():
        if f.is_file() and f.suffix in (".toc", ".seg", ".trm", ".pst", ".fdt", ""):
            with open(f, "r+b") as fh:
                fh.truncate(max(0, f.stat().st_size // 3))


@pytest.mark.asyncio
@pytest.mark.parametrize("damage", [_missing, _garbled, _truncated], ids=["missing", "garbled", "truncated"])
async def test_damaged_search_index_is_reported_while_datasette_keeps_serving(small, tmp_path, metadata, damage):
    from sites import datasette

    db, idx = _copy_with_index(small, tmp_path / "served")
    damage(idx)

    ds = datasette([db], metadata=metadata, settings={})
    r = await ds.client.get("/-/search.json?q=invoice")
    assert r.status_code == 200, r.text[:300]
    answer = r.json()
    assert answer["hits"] == []
    assert answer["available"] is False
    assert "payerkb build" in answer["message"], answer["message"]

    page = await ds.client.get("/-/search?q=invoice")
    assert page.status_code == 200 and "payerkb build" in page.text

    # everything else keeps working, including SQLite's own full-text search
    rules = await ds.client.get("/payerkb/rules.json?_search=invoice&_shape=array")
    assert rules.status_code == 200 and [row["payer_id"] for row in rules.json()] == ["test-good"]
    lookup = await ds.client.get(
        "/payerkb/rules_for_payer_and_code.json?payer=test-good&code=J3590&_shape=array")
    assert lookup.status_code == 200 and any(row["topic"] == "invoice" for row in lookup.json())


@pytest.mark.asyncio
async def test_rebuilding_repairs_a_damaged_index(small, tmp_path, metadata):
    from sites import datasette

    policies, _ = small
    db, idx = _copy_with_index(small, tmp_path / "served")
    _garbled(idx)
    build(policies, db)
    ds = datasette([db], metadata=metadata, settings={})
    answer = (await ds.client.get("/-/search.json?q=invoice")).json()
    assert answer["available"] is True
    assert [hit["payer_id"] for hit in answer["hits"]] == ["test-good"]


# --- the network fails in the middle of a scrape ---------------------------------------------

@responses.activate
def test_network_failing_mid_scrape_keeps_the_last_good_data(tmp_path, monkeypatch):
    from payerkb import scrape as scrape_cmd
    from scrapers import registry
    from scrapers.run import make_fetcher


    spec = registry.get("palmetto-gba")
    assert len(spec.pages) >= 2, "this test needs a source of several pages"
    # no politeness delays and no retry back-off in a test
    monkeypatch.setattr(scrape_cmd, "make_fetcher",
                        functools.partial(make_fetcher, sleep=lambda s: None, min_interval=0))
    hosts = {p.url.split("/")[2] for p in spec.pages}
    for host in hosts:
        responses.get(f"https://{host}/robots.txt", body="User-agent: *\nAllow: /\n")
    fixtures = spec.fixtures()
    for page in spec.pages:
        responses.get(page.url, body=fixtures[page.url].read_bytes(), content_type="text/html; charset=utf-8")

    out, cache = tmp_path / "scraped", tmp_path / "cache"
    args = ["scrape", "palmetto-gba", "--out", str(out), "--cache", str(cache), "--policies", str(POLICIES)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    written = out / "palmetto-gba.yml"
    good = written.read_bytes()

    # second run: the first page answers, then the network goes away
    responses.reset()
    for host in hosts:
        responses.get(f"https://{host}/robots.txt", body="User-agent: *\nAllow: /\n")
    first_page, *rest = spec.pages
    responses.get(first_page.url, body=fixtures[first_page.url].read_bytes(), content_type="text/html")
    for page in rest:
        responses.get(page.url, body=requests.ConnectionError("network is unreachable"))
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 1, second.output
    assert "palmetto-gba FAILED" in second.output and "last good records were kept" in second.output
    assert "ConnectionError" in second.output
    assert written.read_bytes() == good
    log = (out / "fetch-log.jsonl").read_text()
    assert "network is unreachable" in log, "the failed fetch is not in the fetch log"
