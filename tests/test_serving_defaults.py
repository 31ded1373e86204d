"""What `payerkb serve` gives a user by default: read-only, bounded, loopback only, safe headers.

Most checks run against a real `payerkb serve` process on a free loopback port; the header checks
for plugin routes also use Datasette's test client with a throwaway plugin route.
"""
from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from pathlib import Path

import pytest

import servers as server

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served(built_db):
    before = hashlib.sha256(built_db.read_bytes()).hexdigest()
    with server.payerkb_serve(built_db) as (base, _):
        yield server.port_of(base)
    assert hashlib.sha256(built_db.read_bytes()).hexdigest() == before, "serving changed the database file"


def get(port: int, path: str):
    status, body = server.request(port, "GET", path)
    return status, body


def get_json(port: int, path: str):
    status, body = get(port, path)
    return status, json.loads(body)


def sql(port: int, query: str):
    return get_json(port, "/payerkb.json?" + urllib.parse.urlencode({"sql": query, "_shape": "objects"}))


def test_database_is_served_immutable(served):
    _, dbs = get_json(served, "/-/databases.json")
    payerkb = next(d for d in dbs if d["name"] == "payerkb")
    assert payerkb["is_mutable"] is False


def test_listens_on_loopback_only(served):
    port_hex = f"{served:04X}"
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and local.endswith(":" + port_hex):
                listening.append(local.split(":")[0])
    if not listening:
        pytest.skip("cannot read listening sockets from /proc/net/tcp here")
    assert set(listening) == {"0100007F"}, f"listening on {listening} (0100007F is 127.0.0.1)"


@pytest.mark.parametrize("statement", [
    "insert into payers (id, name, payer_type) values ('x', 'x', 'other')",
    "update rules set requirement = 'not_required'",
    "delete from rules",
    "drop table rules",
    "create table t (x)",
    "attach database '/tmp/payerkb-attack.db' as a",
    "pragma writable_schema = 1",
    "select 1; delete from rules",
    "vacuum into '/tmp/payerkb-copy.db'",
])
def test_sql_that_writes_is_refused(served, statement):
    status, body = sql(served, statement)
    assert status == 400, (status, body)
    assert body["ok"] is False and body["error"]
    status, rows = sql(served, "select count(*) as n from rules where requirement = 'required'")
    assert status == 200 and rows["rows"][0]["n"] > 0


@pytest.mark.parametrize("path", [
    "/payerkb", "/payerkb/-/insert", "/payerkb/-/create", "/payerkb/payers/-/insert",
    "/payerkb/payers/-/upsert", "/payerkb/payers/-/drop", "/payerkb/payers/medicare-cms/-/update",
    "/payerkb/payers/medicare-cms/-/delete", "/payerkb/rules_for_payer_and_code",
    "/-/create-token", "/payerkb/-/query", "/payerkb/rules_for_payer_and_code.json",
])
def test_no_write_endpoint_accepts_a_post(served, path):
    body = json.dumps({"row": {"id": "x", "name": "x", "payer_type": "other"},
                       "sql": "delete from rules", "table": "t", "columns": [{"name": "x"}]}).encode()
    status, text = server.request(served, "POST", path, body, {"Content-Type": "application/json"})
    assert status in (400, 403, 404, 405), (path, status, text[:200])
    _, rows = sql(served, "select count(*) as n from payers where id = 'x'")
    assert rows["rows"][0]["n"] == 0


def test_no_canned_query_writes(metadata):
    for name, query in metadata["databases"]["payerkb"].get("queries", {}).items():
        assert not query.get("write"), f"canned query {name} is a write query"


def test_a_runaway_query_is_stopped_by_the_time_limit(served):
    _, settings = get_json(served, "/-/settings.json")
    limit = settings["sql_time_limit_ms"] / 1000
    assert 0 < limit <= 10
    started = time.monotonic()
    status, body = sql(served, "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c")
    elapsed = time.monotonic() - started
    assert status == 400 and "too long" in body["error"].lower(), body
    assert elapsed < limit + 5


def test_results_are_capped_at_max_returned_rows(served):
    _, settings = get_json(served, "/-/settings.json")
    cap = settings["max_returned_rows"]
    assert 0 < cap <= 10_000
    status, body = sql(served, f"with recursive c(x) as (select 1 union all select x + 1 from c limit {cap + 500}) select x from c")
    assert status == 200
    assert len(body["rows"]) == cap and body["truncated"] is True


def test_every_json_answer_allows_cross_origin_reads(served):
    """The data is public and read-only and the check takes no credentials: CORS on every JSON answer,
    Datasette's and payerkb's alike; HTML pages send none."""
    for path in ("/payerkb/payers.json", "/-/search.json?q=invoice", "/-/payers.json",
                 "/-/check.json?payer_id=medicare-wps-j5&date_of_service=2026-01-15&hcpcs=J3590"):
        status, headers = _headers(served, path)
        assert status == 200 and headers.get("access-control-allow-origin") == "*", path
    status, headers = _headers(served, "/-/matrix")
    assert status == 200 and "access-control-allow-origin" not in headers


# --- safe headers ------------------------------------------------------------------------------

def _headers(port: int, path: str) -> tuple[int, dict]:
    import http.client

    conn = http.client.HTTPConnection(server.HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def assert_safe_headers(headers: dict) -> None:
    csp = headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"], csp
    script = directives.get("script-src", [])
    assert script and script[0] == "'self'", csp
    assert all(s.startswith("'sha256-") for s in script[1:]), f"scripts allowed beyond self and hashes: {csp}"
    assert directives.get("object-src") == ["'none'"] and directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("base-uri") == ["'self'"] and directives.get("form-action") == ["'self'"]
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer")  # Datasette's data pages say no-referrer


def _fixed_plugin_paths() -> list[str]:
    """Plugin routes with a fixed path (no parameters), from the feature modules."""
    from payerkb.web import FEATURE_MODULES

    paths = []
    for module in FEATURE_MODULES:
        for regex, _ in getattr(module, "ROUTES", []):
            plain = regex.removeprefix("^").removesuffix("$").replace("\\.", ".").replace("\\-", "-")
            if not any(ch in plain for ch in "()[]?*+\\{}|"):
                paths.append(plain)
    return paths


@pytest.mark.parametrize("path", ["/", "/payerkb", "/payerkb/rules", "/payerkb/rules.json", "/-/versions.json",
                                  "/payerkb?sql=select+1"])
def test_safe_headers_on_datasette_pages(served, path):
    status, headers = _headers(served, path)
    assert status == 200
    assert_safe_headers(headers)


def test_safe_headers_on_every_plugin_page(served):
    paths = _fixed_plugin_paths()
    assert "/-/search" in paths and "/" in paths, paths
    for path in paths:
        status, headers = _headers(served, path)
        assert status < 500, path
        assert_safe_headers(headers)


@pytest.mark.asyncio
async def test_any_plugin_route_gets_the_headers_and_keeps_its_own_csp(ds):
    """A throwaway plugin route, to show the wrapper covers routes that do not exist yet."""
    from datasette import hookimpl
    from datasette.plugins import pm
    from sites import datasette
    from datasette.utils.asgi import Response

    class ProbePlugin:
        __name__ = "payerkb-test-probe"

        @staticmethod
        @hookimpl
        def register_routes():
            async def probe(request):
                return Response.html("<p>probe</p>")

            async def own_csp(request):
                return Response.html("<p>own</p>", headers={"Content-Security-Policy": "default-src 'none'"})

            return [(r"^/-/payerkb-probe$", probe), (r"^/-/payerkb-probe-own-csp$", own_csp)]

    pm.register(ProbePlugin, name="payerkb-test-probe")
    try:
        fresh = datasette([p.path for p in ds.databases.values() if p.path])
        probe = await fresh.client.get("/-/payerkb-probe")
        assert probe.status_code == 200 and probe.text == "<p>probe</p>"
        assert_safe_headers({k.lower(): v for k, v in probe.headers.items()})
        own = await fresh.client.get("/-/payerkb-probe-own-csp")
        assert own.headers["content-security-policy"] == "default-src 'none'"
        assert own.headers["x-content-type-options"] == "nosniff"
    finally:
        pm.unregister(name="payerkb-test-probe")


def test_csp_allows_exactly_the_inline_scripts_datasette_ships():
    """Each hash in the policy is the hash of an inline script in a template, and there is one for
    Datasette's menu-closing script, which every page carries."""
    import base64

    from payerkb.web.security import TEMPLATE_DIRS, inline_script_hashes

    base = (TEMPLATE_DIRS[0] / "_close_open_menus.html").read_text()
    body = base.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
    assert digest in inline_script_hashes()
    assert "'sha256-" + base64.b64encode(hashlib.sha256(b"window.__pwned = 1").digest()).decode() + "'" \
        not in inline_script_hashes()


def test_post_to_a_read_only_canned_query_is_405_not_500(served):
    # Datasette 0.65.5 alone answers this with a 500 and a traceback in the log
    for path in ("/payerkb/rules_for_payer_and_code", "/payerkb/rules_for_payer_and_code.json"):
        status, body = server.request(served, "POST", path, b"payer=medicare-cms&code=J3590",
                                      {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 405, (path, status, body[:200])
        assert "use GET" in json.loads(body)["error"]
    status, rows = get_json(served, "/payerkb/rules_for_payer_and_code.json?payer=medicare-cms&code=J3590&_shape=array")
    assert status == 200 and rows
