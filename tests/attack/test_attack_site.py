"""Hostile requests at the served site (Datasette's test client on the real knowledge base):
memory bombs in SQL, inputs that used to give 500s, methods, the Host header, CORS."""
from __future__ import annotations

import asyncio
import json
import resource

import pytest

from payerkb.web.check import MAX_BODY, BodyTooLarge, read_body

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("sql", [
    "select randomblob(1000000000)",
    "select zeroblob(1000000000)",
    "select length(printf('%.*c', 1000000000, 'x'))",
    "select length(replace(hex(zeroblob(5000000)), '0', '0000000000'))",
    "with recursive n(i) as (select 1 union all select i + 1 from n where i < 200000) "
    "select length(group_concat(hex(randomblob(64)))) from n",
])
@pytest.mark.slow
async def test_one_call_memory_bombs_are_refused_at_once(ds, sql):
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    r = await ds.client.get("/payerkb.json", params={"sql": sql})
    if r.status_code == 200:  # printf() answers NULL rather than an error when its result is too big
        assert r.json()["rows"] == [[None]], r.text[:300]
    else:
        assert r.status_code == 400 and "too big" in r.json()["error"], r.text[:300]
    # refused before SQLite built the value: the process's peak memory did not grow by the bomb
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 300_000


async def test_ordinary_sql_still_works(ds):
    r = await ds.client.get("/payerkb.json", params={"sql": "select count(*) as n from payers", "_shape": "array"})
    assert r.status_code == 200 and r.json()[0]["n"] > 0


@pytest.mark.parametrize("path", ["/-/changes.json?page=%C2%B2", "/-/changes?page=-1",
                                  "/-/codes/J3590.json?page=9223372036854775807", "/-/codes/J3590?page=1e9"])
async def test_bad_page_numbers_are_400_not_500(ds, path):
    r = await ds.client.get(path)
    assert r.status_code == 400, (path, r.status_code)


async def test_check_with_json_nested_1000_deep_is_400(ds):
    r = await ds.client.post("/-/check", content=b"[" * 1000 + b"]" * 1000,
                             headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]


async def test_check_refuses_a_large_body_on_its_content_length(ds):
    r = await ds.client.post("/-/check", content=b"{" + b" " * (MAX_BODY + 10) + b"}",
                             headers={"content-type": "application/json"})
    assert r.status_code == 400 and "larger than 256 KB" in r.json()["error"]


async def test_the_body_reader_stops_at_the_cap_without_reading_the_rest():
    """A chunked upload with no Content-Length: reading stops as soon as the cap is passed."""
    reads = 0

    async def receive():
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    class Request:
        headers: dict = {}

    req = Request()
    req.receive = receive
    with pytest.raises(BodyTooLarge):
        await read_body(req, limit=MAX_BODY)
    assert reads == MAX_BODY // 65536 + 1


@pytest.mark.parametrize("method, path", [
    ("POST", "/payerkb/rules"), ("POST", "/-/messages"), ("POST", "/payerkb/coverage"),
    ("PUT", "/-/check"), ("DELETE", "/-/check"), ("PATCH", "/-/check"),
    ("PUT", "/"), ("DELETE", "/"), ("PATCH", "/-/search"), ("DELETE", "/-/search"),
])
async def test_methods_nothing_answers_are_405(ds, method, path):
    r = await ds.client.request(method, path)
    assert r.status_code == 405, (method, path, r.status_code)
    assert "GET" in r.headers["allow"]


async def test_post_check_still_works_and_sends_cors(ds):
    line = {"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1}
    r = await ds.client.post("/-/check", content=json.dumps(line), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/-/search.json?q=invoice", "/payerkb/payers.json", "/-/payers.json",
                                  "/-/check.json?payer_id=medicare-wps-j5&date_of_service=2026-01-15&hcpcs=J3590",
                                  "/-/changes.atom"])
async def test_json_and_feeds_carry_cors(ds, path):
    r = await ds.client.get(path)
    assert r.status_code == 200 and r.headers.get("access-control-allow-origin") == "*", path


async def test_a_cors_preflight_for_the_check_is_answered(ds):
    r = await ds.client.request("OPTIONS", "/-/check", headers={
        "origin": "https://scrubber.example", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})
    assert r.status_code == 204
    assert "POST" in r.headers["access-control-allow-methods"] and r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/-/check", "/-/changes.atom"])
async def test_the_host_header_is_never_copied_into_pages(ds, path):
    r = await ds.client.get(path, headers={"host": "evil.example.org"})
    assert r.status_code == 200 and "evil.example.org" not in r.text


async def test_concurrent_hostile_requests_do_not_break_benign_ones(ds):
    """A small, bounded replay in-process: bombs and bad pages interleaved with lookups."""
    hostile = ["/payerkb.json?sql=select+randomblob(1000000000)", "/-/changes.json?page=%C2%B2",
               "/-/codes/J3590.json?page=9223372036854775807"]
    benign = ["/-/payers/medicare-wps-j5.json", "/-/search.json?q=invoice+threshold", "/payerkb/payers.json?_shape=array"]
    results = await asyncio.gather(*[ds.client.get(p) for _ in range(5) for p in hostile + benign])
    codes = [r.status_code for r in results]
    assert 500 not in codes
    assert all(r.status_code == 200 for r in results if any(r.url.path == b.split("?")[0] for b in benign))
