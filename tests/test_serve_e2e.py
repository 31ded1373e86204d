"""`payerkb serve` as a real process on a free port, read over HTTP."""
from __future__ import annotations

import json
import urllib.request

import pytest
from servers import payerkb_serve

pytestmark = pytest.mark.server


@pytest.fixture()
def server(built_db):
    with payerkb_serve(built_db) as running:
        yield running


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, json.loads(r.read())


def test_serve_answers_json_over_http(server):
    base, _ = server
    status, payers = get_json(base + "/payerkb/payers.json?_shape=array")
    assert status == 200 and len(payers) >= 3
    status, rules = get_json(base + "/payerkb/rules.json?_search=invoice&_shape=array")
    assert status == 200 and rules


def test_serve_is_immutable_with_limits(server):
    base, _ = server
    _, dbs = get_json(base + "/-/databases.json")
    dbs = dbs["databases"] if isinstance(dbs, dict) else dbs  # Datasette 1.0 wraps the list
    assert dbs[0]["is_mutable"] is False
    _, settings = get_json(base + "/-/settings.json")
    assert settings["sql_time_limit_ms"] == 3000 and settings["suggest_facets"] is False
    _, plugins = get_json(base + "/-/plugins.json")
    assert any(p["name"].startswith("payerkb") for p in plugins)


def test_serve_prints_url_and_what_to_try(server):
    base, proc = server
    proc.terminate()
    proc.wait(timeout=10)
    out = proc.output()
    assert "payerkb is serving" in out and base in out and "try:" in out


def _children(pid: int) -> list[int]:
    from pathlib import Path

    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/task"), reason="reads /proc")
def test_search_runs_in_a_worker_that_leaves_with_the_server(built_db, monkeypatch):
    import os
    import signal
    import time

    monkeypatch.setenv("PAYERKB_SEARCH_WORKERS", "1")
    with payerkb_serve(built_db) as (base, proc):
        status, answer = get_json(base + "/-/search.json?q=invoice+threshold+medicaid")
        assert status == 200 and answer["hits"] and answer["available"]
        workers = [k for k in _children(proc.pid)
                   if b"multiprocessing" in open(f"/proc/{k}/cmdline", "rb").read()]
        assert workers, "the search ran in the server's own threads"
        os.kill(proc.pid, signal.SIGKILL)  # a killed server leaves no search worker behind
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers):
            time.sleep(0.2)
        left = [w for w in workers if os.path.exists(f"/proc/{w}")
                and b"zombie" not in open(f"/proc/{w}/status", "rb").read().lower()]
        assert not left
