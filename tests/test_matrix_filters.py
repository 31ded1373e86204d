"""/-/matrix narrowed to a claim context (code, setting, date of service) as well as payer type and
state, each cell with its footing, and paging: on the small made-up knowledge base of
tests/fixtures/pages_policies/ (exact answers), through Datasette's test client."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from payerkb import queries

FIXTURE_POLICIES = Path(__file__).resolve().parent / "fixtures" / "pages_policies"


@pytest.fixture(scope="module")
def site(tmp_path_factory, metadata):
    from sites import datasette

    from db.build import build

    out = tmp_path_factory.mktemp("matrix-filters") / "payerkb.db"
    build(FIXTURE_POLICIES, out, extra_steps=[])
    return datasette([out], metadata=metadata)


async def _cells(site, query: str = "") -> dict:
    data = (await site.client.get(f"/-/matrix.json{query}")).json()
    return {p["id"]: p["cells"] for p in data["payers"]}


async def test_code_filter_keeps_only_rules_naming_the_code(site):
    every = await _cells(site)
    j3490 = await _cells(site, "?code=j3490")
    # alpha's NDC and narrative rules name only J3590: for J3490 there is no source for them
    assert every["alpha-health"]["ndc"] == "conflicting" and j3490["alpha-health"]["ndc"] == "unknown"
    assert every["alpha-health"]["narrative"] == "required" and j3490["alpha-health"]["narrative"] == "unknown"
    assert j3490["alpha-health"]["prior_auth"] == "required"  # names J3590 and J3490
    assert every["beta-medicaid"]["units"] == "required" and j3490["beta-medicaid"]["units"] == "unknown"


async def test_setting_and_date_filters(site):
    # alpha's narrative rule is for professional claims only
    assert (await _cells(site, "?setting=outpatient_facility"))["alpha-health"]["narrative"] == "unknown"
    assert (await _cells(site, "?setting=professional"))["alpha-health"]["narrative"] == "required"
    # the shared group's modifiers rule takes effect later than 2020: not in effect on 2020-01-01
    assert (await _cells(site))["gamma-national"]["modifiers"] == "conditional"
    assert (await _cells(site, "?date=2020-01-01"))["gamma-national"]["modifiers"] == "unknown"


async def test_filters_are_on_the_page_as_a_form_and_reach_json_csv_and_links(site):
    html = (await site.client.get("/-/matrix?code=J3490&setting=professional&date=2026-03-01&payer_type=commercial")).text
    for name in ("payer_type", "state", "code", "setting", "date"):
        assert f'name="{name}"' in html
    assert '<option value="J3490" selected>' in html and '<option value="professional" selected>' in html
    assert 'value="2026-03-01"' in html
    assert 'href="/-/matrix.csv?code=J3490&amp;setting=professional&amp;date=2026-03-01&amp;payer_type=commercial"' in html
    # a cell leads to the payer page answering for the same claim context
    assert 'href="/-/payers/alpha-health?code=J3490&amp;date=2026-03-01&amp;setting=professional#topic-prior_auth"' in html
    data = (await site.client.get("/-/matrix.json?code=J3490&setting=professional&date=2026-03-01")).json()
    assert data["filters"] == {"payer_type": None, "state": None, "code": "J3490", "setting": "professional",
                               "date": "2026-03-01"}
    table = list(csv.DictReader(io.StringIO((await site.client.get("/-/matrix.csv?code=J3490")).text)))
    alpha = next(r for r in table if r["payer_id"] == "alpha-health")
    assert alpha["ndc"] == "unknown" and alpha["prior_auth"] == "required"


@pytest.mark.parametrize("query, words", [
    ("?code=J1234", "code"), ("?code=<b>", "code"), ("?setting=inpatient", "setting"),
    ("?date=2026-02-30", "date"), ("?date=yesterday", "date"), ("?page=0", "page"),
])
async def test_bad_filters_answer_400_naming_the_parameter(site, query, words):
    for fmt in ("", ".json", ".csv"):
        r = await site.client.get(f"/-/matrix{fmt}{query}")
        assert r.status_code == 400, (fmt, query)
        assert words in r.text
        assert fmt != "" or "<b>" not in r.text


async def test_an_unconfirmed_answer_never_looks_confident(site):
    """beta's units rule says 'required' but no source confirms it: its footing says so everywhere."""
    html = (await site.client.get("/-/matrix")).text
    cell = re.search(r'<td class="cell req-required foot-unconfirmed"><a href="/-/payers/beta-medicaid#topic-units">'
                     r'Required<small class="pk-foot">unconfirmed</small></a></td>', html)
    assert cell
    data = (await site.client.get("/-/matrix.json")).json()
    beta = next(p for p in data["payers"] if p["id"] == "beta-medicaid")
    assert beta["footing"]["units"] == "unconfirmed" and beta["footing"]["invoice"] == "official"
    assert beta["footing"]["ndc"] is None and beta["cells"]["ndc"] == "unknown"
    assert data["footings"] == ["official", "secondary only", "unconfirmed"]
    row = next(r for r in csv.DictReader(io.StringIO((await site.client.get("/-/matrix.csv")).text))
               if r["payer_id"] == "beta-medicaid")
    assert row["units_footing"] == "unconfirmed" and row["invoice_footing"] == "official"


async def test_matrix_pages_through_payers(site, monkeypatch):
    monkeypatch.setattr(queries, "MATRIX_PAGE_SIZE", 3)
    first = (await site.client.get("/-/matrix.json")).json()
    second = (await site.client.get("/-/matrix.json?page=2")).json()
    assert (first["payer_count"], first["pages"], len(first["payers"])) == (4, 2, 3)
    assert len(second["payers"]) == 1
    every = [p["id"] for p in first["payers"] + second["payers"]]
    assert sorted(every) == ["alpha-health", "beta-medicaid", "delta-plan", "gamma-national"]
    html = (await site.client.get("/-/matrix?code=J3590")).text
    assert 'href="/-/matrix?code=J3590&amp;page=2" rel="next"' in html
    assert "3 on this page (1 of 2)" in html
    # the CSV is every payer the filters keep, not one page
    assert len(list(csv.DictReader(io.StringIO((await site.client.get("/-/matrix.csv")).text)))) == 4
    # a page past the end shows the last page
    assert [p["id"] for p in (await site.client.get("/-/matrix.json?page=9")).json()["payers"]] == \
        [p["id"] for p in second["payers"]]


async def test_payers_list_pages(site, monkeypatch):
    monkeypatch.setattr(queries, "PAYERS_PAGE_SIZE", 3)
    first = (await site.client.get("/-/payers.json")).json()
    assert (first["payer_count"], first["pages"], len(first["payers"])) == (4, 2, 3)
    html = (await site.client.get("/-/payers?page=2")).text
    assert 'rel="prev"' in html and len(re.findall(r'<tr><td><a href="/-/payers/', html)) == 1
