"""`payerkb serve` as a real process on a free port, read over HTTP."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(built_db):
    port = free_port()
    payerkb = Path(sys.executable).parent / "payerkb"
    proc = subprocess.Popen(
        [str(payerkb), "serve", "--db", str(built_db), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"payerkb serve exited: {proc.stdout.read()}")
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("payerkb serve did not answer within 30 s")
    yield base, proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


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
    assert dbs[0]["is_mutable"] is False
    _, settings = get_json(base + "/-/settings.json")
    assert settings["sql_time_limit_ms"] == 3000 and settings["suggest_facets"] is False
    _, plugins = get_json(base + "/-/plugins.json")
    assert any(p["name"].startswith("payerkb") for p in plugins)


def test_serve_prints_url_and_what_to_try(server):
    base, proc = server
    proc.terminate()
    out = proc.communicate(timeout=10)[0]
    assert f"payerkb is serving" in out and base in out and "try:" in out
