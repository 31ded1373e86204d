"""The claim check in Datasette: POST /-/check, GET /-/check.json, and the HTML form page."""
from __future__ import annotations

import json

import pytest

WRONG_UNITS = {"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 3,
               "narrative": "Brandnamumab 300 mg IV"}
QUERY = "payer_id=medicare-wps-j5&date_of_service=2026-01-15&hcpcs=J3590&units=3&narrative=Brandnamumab+300+mg+IV"


@pytest.mark.asyncio
async def test_post_json_answers_with_findings_and_citations(ds):
    r = await ds.client.post("/-/check", content=json.dumps(WRONG_UNITS), headers={"content-type": "application/json"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"ok", "findings", "normalized"} and body["ok"] is False
    units = next(f for f in body["findings"] if f["topic"] == "units" and f["severity"] == "error")
    assert set(units) >= {"severity", "topic", "message", "fix", "rule_id", "source_url", "as_of", "likely_denial"}
    assert units["rule_id"] == "medicare-wps-j5--units-professional" and units["source_url"].startswith("http")
    assert body["normalized"]["units"] == 1


@pytest.mark.asyncio
async def test_get_with_query_parameters_gives_the_same_answer(ds):
    post = await ds.client.post("/-/check", content=json.dumps(WRONG_UNITS), headers={"content-type": "application/json"})
    for path in (f"/-/check.json?{QUERY}", f"/-/check?{QUERY}"):
        got = await ds.client.get(path)
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
        assert got.json() == post.json()
    repeated = await ds.client.get("/-/check.json?payer_id=medicare-wps-j5&date_of_service=2026-01-15&hcpcs=J3590"
                                   "&modifiers=JZ&modifiers=KX")
    assert repeated.json()["normalized"]["modifiers"] == ["JZ", "KX"]


@pytest.mark.asyncio
async def test_browser_gets_the_form_and_the_findings(ds):
    empty = await ds.client.get("/-/check", headers={"accept": "text/html"})
    assert empty.status_code == 200 and "<form" in empty.text
    assert 'value="medicare-palmetto-jj"' in empty.text and 'name="narrative"' in empty.text
    page = await ds.client.get(f"/-/check?{QUERY}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "3 units billed" in page.text and "error(s) to fix" in page.text
    assert "/payerkb/rules/medicare-wps-j5--units-professional" in page.text
    assert f'href="/-/check.json?{QUERY.replace("&", "&amp;")}"' in page.text
    assert 'value="Brandnamumab 300 mg IV"' not in page.text  # narrative is a textarea, filled in
    assert ">Brandnamumab 300 mg IV</textarea>" in page.text


@pytest.mark.asyncio
async def test_html_escapes_what_the_user_typed(ds):
    page = await ds.client.get("/-/check?payer_id=aetna&date_of_service=2026-01-15&hcpcs=J3590"
                               "&narrative=%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers={"accept": "text/html"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.asyncio
async def test_bad_input_in_the_form_is_shown_not_crashed_on(ds):
    page = await ds.client.get("/-/check?payer_id=aetna&date_of_service=2026-01-15&hcpcs=J3590&units=x",
                               headers={"accept": "text/html"})
    assert page.status_code == 400 and "units: must be a number" in page.text and "<form" in page.text


@pytest.mark.asyncio
@pytest.mark.parametrize("body, field, words", [
    (b"{not json", "body", "not valid JSON"),
    (b"[1, 2]", "body", "one claim line as a JSON object"),
    (b"", "body", "one claim line as a JSON object"),
    (json.dumps({**WRONG_UNITS, "payer_id": "medicare-wps-j9"}).encode(), "payer_id", "did you mean"),
    (json.dumps({**WRONG_UNITS, "hcpcs": "J1234"}).encode(), "hcpcs", "not a code payerkb knows"),
    (json.dumps({**WRONG_UNITS, "units": [1]}).encode(), "units", "must be a number"),
    (json.dumps({**WRONG_UNITS, "invoice_attached": "maybe"}).encode(), "invoice_attached", "true or false"),
    (json.dumps({**WRONG_UNITS, "unit": 1}).encode(), "unit", "did you mean 'units'"),
    (json.dumps({"hcpcs": "J3590"}).encode(), "payer_id", "required field is missing"),
])
async def test_bad_input_is_a_400_naming_the_field(ds, body, field, words):
    r = await ds.client.post("/-/check", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    answer = r.json()
    assert answer["ok"] is False and answer["field"] == field and words in answer["error"]


@pytest.mark.asyncio
async def test_json_twin_without_parameters_explains_itself(ds):
    r = await ds.client.get("/-/check.json")
    assert r.status_code == 400 and "query parameters" in r.json()["error"]


@pytest.mark.asyncio
async def test_nav_link_to_the_check(ds):
    page = await ds.client.get("/-/check", headers={"accept": "text/html"})
    assert 'href="/-/check">Claim check</a>' in page.text


@pytest.mark.asyncio
async def test_post_from_a_client_holding_a_csrf_cookie_is_not_refused(ds):
    # a program that first read a Datasette page carries the ds_csrftoken cookie but no form token
    body = {"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 3}
    r = await ds.client.post("/-/check", json=body, cookies={"ds_csrftoken": "IjEyMyI.abc"})
    assert r.status_code == 200, r.text[:200]
    assert any(f["topic"] == "units" for f in r.json()["findings"])


SILENT_ON_UNITS = {"payer_id": "aetna", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1,
                   "narrative": "Brandnamumab 300 mg IV"}


@pytest.mark.asyncio
async def test_strict_turns_the_missing_payer_rule_warning_into_an_error(ds):
    async def units_fallback(extra: dict, query: str = ""):
        r = await ds.client.post("/-/check" + query, content=json.dumps({**SILENT_ON_UNITS, **extra}),
                                 headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        body = r.json()
        return body, next(f for f in body["findings"] if f["topic"] == "units" and f.get("reference"))

    plain, warned = await units_fallback({})
    assert warned["severity"] == "warning" and plain["ok"] is True
    assert warned["basis"] == "national rule" and warned["rule_id"].startswith("medicare-cms--")
    strict, erred = await units_fallback({"strict": True})
    assert erred["severity"] == "error" and strict["ok"] is False
    page = await ds.client.get("/-/check.json?" + "&".join(f"{k}={v}" for k, v in SILENT_ON_UNITS.items()
                                                           if k != "narrative") + "&strict=1")
    assert page.json()["ok"] is False
    bad = await ds.client.post("/-/check", content=json.dumps({**SILENT_ON_UNITS, "strict": "maybe"}),
                               headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["field"] == "strict"
