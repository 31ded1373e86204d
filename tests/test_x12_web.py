"""POST /-/check with an 837 body, and the 837 form at /-/check/x12."""
from __future__ import annotations

from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parent / "fixtures" / "x12"
P837 = (FIX / "professional.837").read_bytes()


@pytest.mark.asyncio
@pytest.mark.parametrize("ctype", ["application/edi-x12", "text/plain; charset=us-ascii"])
async def test_post_an_837_body(ds, ctype):
    r = await ds.client.post("/-/check", content=P837, headers={"content-type": ctype})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["format"] == "x12-837" and body["summary"]["claims"] == 4
    claim = next(c for c in body["claims"] if c["claim_id"] == "PAT1-0001")
    line = next(l for l in claim["lines"] if l["lx"] == "3")
    assert line["segment"] == 31 and line["result"]["normalized"]["suggested_code"] == "J9035"


@pytest.mark.asyncio
async def test_payer_parameter_overrides(ds):
    r = await ds.client.post("/-/check?payer=aetna", content=P837, headers={"content-type": "application/edi-x12"})
    assert {c["payer"]["payer_id"] for c in r.json()["claims"]} == {"aetna"}


@pytest.mark.asyncio
async def test_bad_837_bodies_are_400s_naming_the_segment(ds):
    text = P837.decode()
    cut = text[:text.index("CLM*PAT3-0001")].encode()
    r = await ds.client.post("/-/check", content=cut, headers={"content-type": "application/edi-x12"})
    assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and "truncated" in body["error"] and body["error"].startswith("segment ")
    assert [c["claim_id"] for c in body["claims"]] == ["PAT1-0001", "PAT2-0001"]  # what could be read
    r = await ds.client.post("/-/check", content=b"not x12", headers={"content-type": "text/plain"})
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = await ds.client.post("/-/check", content=b"ISA" + b"*" * (5 * 1024 * 1024),
                             headers={"content-type": "application/edi-x12"})
    assert r.status_code == 400 and "larger than" in r.json()["error"]
    # a JSON claim line is still read as before
    r = await ds.client.post("/-/check", content=b'{"payer_id": "aetna", "date_of_service": "2026-01-15", '
                                                 b'"hcpcs": "J3590"}', headers={"content-type": "application/json"})
    assert r.status_code == 200 and "findings" in r.json()


@pytest.mark.asyncio
async def test_the_837_form_takes_a_paste_or_an_upload(ds):
    page = await ds.client.get("/-/check/x12", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text and 'name="x12"' in page.text
    for field in ("x12", "file"):
        files = {field: ("claims.837", P837, "application/edi-x12")} if field == "file" else None
        data = {"x12": P837.decode()} if field == "x12" else {"x12": ""}
        r = await ds.client.post("/-/check", data=data, files=files or {"file": ("", b"", "application/octet-stream")},
                                 headers={"accept": "text/html"})
        assert r.status_code == 200, r.text[:500]
        assert "Claim PAT1-0001" in r.text and "J9035" in r.text and "segment 31" in r.text
        assert "medicare-palmetto-jj" in r.text
    empty = await ds.client.post("/-/check", data={"x12": ""}, files={"file": ("", b"", "text/plain")},
                                 headers={"accept": "text/html"})
    assert empty.status_code == 400 and "paste an 837" in empty.text


@pytest.mark.asyncio
async def test_the_form_escapes_what_the_file_says(ds):
    text = P837.decode().replace("INVENTAMAB 200 MG IV", "<script>alert(1)</script>")
    text = text.replace("SE*49*0001", "SE*49*0001")
    r = await ds.client.post("/-/check", data={"x12": text}, files={"file": ("", b"", "text/plain")},
                             headers={"accept": "text/html"})
    assert "<script>alert(1)</script>" not in r.text


@pytest.mark.asyncio
async def test_the_claim_check_page_links_to_the_837_form(ds):
    page = await ds.client.get("/-/check", headers={"accept": "text/html"})
    assert 'href="/-/check/x12"' in page.text


@pytest.mark.asyncio
async def test_strict_parameter_makes_missing_payer_rules_errors(ds):
    async def fallbacks(query):
        r = await ds.client.post("/-/check" + query, content=P837, headers={"content-type": "application/edi-x12"})
        assert r.status_code == 200, r.text
        return {f["severity"] for c in r.json()["claims"] for line in c["lines"] if "result" in line
                for f in line["result"]["findings"] if f.get("reference")}

    assert await fallbacks("?payer=aetna") == {"warning"}
    assert await fallbacks("?payer=aetna&strict=1") == {"error"}
    bad = await ds.client.post("/-/check?strict=perhaps", content=P837, headers={"content-type": "application/edi-x12"})
    assert bad.status_code == 400 and bad.json()["field"] == "strict"
