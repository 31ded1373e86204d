"""The drug pages (/-/drugs, /-/drugs/<id> and their JSON), the payer page's drug section with its
code and date filters, and "by drug list" on the matrix and code pages (payerkb/web/drugs.py,
payerkb/drug_queries.py), on the fixture tree and on the real policies/."""
from __future__ import annotations

import html as html_lib
import re
import sqlite3
from html.parser import HTMLParser

import pytest

from drugs_fixture import build_drug_fixture, datasette_for
from payerkb import queries


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_drug_fixture(tmp_path_factory.mktemp("drugs-pages") / "payerkb.db")


@pytest.fixture(scope="module")
def site(fixture_db, metadata):
    return datasette_for(fixture_db, metadata)


def _text(html: str) -> str:
    main = html.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace(" ,", ","))


class _Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.levels = []

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))


def _headings_in_order(html: str) -> None:
    parser = _Headings()
    parser.feed(html.split('<main id="main">', 1)[1])
    assert parser.levels.count(1) == 1
    for before, after in zip(parser.levels, parser.levels[1:]):
        assert after <= before + 1, parser.levels


# --- /-/drugs/<id> ------------------------------------------------------------------------------

async def test_drug_page_every_payer_with_dates_criteria_reviewer_and_sources(site):
    r = await site.client.get("/-/drugs/qalsody")
    assert r.status_code == 200
    _headings_in_order(r.text)
    text = _text(r.text)
    assert "Qalsody (tofersen)" in text and "BIIB067" in text and "64406-0109-01" in text
    for bit in ("Peach Health Plan: prior authorization Required", "from 2023-11-01", "CC-0237",
                "Peach medical specialty drug review team", "River Plan: prior authorization Conditional",
                "from 2024-03-01", "RP-77", "River Plan pharmacy team"):
        assert bit in text, bit
    # sources: official / secondary, dated / undated
    assert 'href="https://example.org/peach/drug-list-2023"' in r.text and "dated 2023-08-01" in text
    assert "kind-official" in r.text and "kind-secondary" in r.text
    assert "undated (read 2026-11-27)" in text  # the drug file's own (undated, secondary) source
    # NOC history and its own code from the CMS crosswalk
    assert ("Billed on J3490 or J3590 until 2026Q1 at the latest; J1304 since 2026Q1 at the latest" in text)
    assert 'href="/-/payers/peach-health#drugs"' in r.text


async def test_drug_page_history_from_the_drug_file(site):
    text = _text((await site.client.get("/-/drugs/oldcode")).text)
    assert "Billed on J3590 until 2024-03-31; J1234 since 2024-04-01." in text
    text = _text((await site.client.get("/-/drugs/dupcode")).text)
    assert "Billed on J9999 (payers' rules from 2021-03-01); payerkb knows no code of its own for it." in text
    assert "1 mg" in text and "$12.50 per billing unit" in text


async def test_drug_page_json_twin(site):
    r = await site.client.get("/-/drugs/qalsody.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert data["drug"]["crosswalk_hcpcs_code"] == "J1304" and data["drug"]["crosswalk_quarter"] == "2026Q1"
    assert data["history"]["own_code"] == "J1304" and data["history"]["noc_codes"] == ["J3490", "J3590"]
    assert [p["id"] for p in data["payers"]] == ["peach-health", "river-plan"]
    rule = data["payers"][0]["rules"][0]
    assert rule["criteria_id"] == "CC-0237" and rule["effective_from"] == "2023-11-01"
    assert rule["codes"] == ["J3490", "J3590"]
    assert [(s["id"], s["kind"], s["undated"]) for s in rule["sources"]] == [("peach-drug-list-2023", "official", False)]
    assert data["payer_count"] == 2 and data["rule_count"] == 2
    missing = await site.client.get("/-/drugs/no-such-drug.json")
    assert missing.status_code == 404 and "no-such-drug" in missing.json()["error"]
    assert (await site.client.get("/-/drugs/no-such-drug")).status_code == 404


async def test_drug_index_and_json(site):
    r = await site.client.get("/-/drugs")
    assert r.status_code == 200
    _headings_in_order(r.text)
    assert 'href="/-/drugs/qalsody"' in r.text and "6 drugs" in _text(r.text)
    data = (await site.client.get("/-/drugs.json")).json()
    by_id = {d["id"]: d for d in data["drugs"]}
    assert data["total"] == 6
    assert (by_id["qalsody"]["payers"], by_id["qalsody"]["prior_auth_payers"], by_id["qalsody"]["rules"]) == (2, 2, 2)
    assert (by_id["dupcode"]["payers"], by_id["dupcode"]["prior_auth_payers"]) == (1, 0)
    assert by_id["oldcode"]["own_code"] == "J1234" and by_id["nexviazyme"]["own_code"] == "J0219"
    home = await site.client.get("/")
    assert 'href="/-/drugs"' in home.text


# --- the payer page's drug section ---------------------------------------------------------------

async def test_payer_page_drug_section_with_code_and_date_filters(site):
    r = await site.client.get("/-/payers/peach-health")
    assert r.status_code == 200
    _headings_in_order(r.text)
    assert 'id="drugs"' in r.text and "Drugs on NOC codes that need prior authorization" in r.text
    assert '<label for="drug-date">' in r.text and '<label for="drug-code">' in r.text
    data = (await site.client.get("/-/payers/peach-health.json")).json()
    section = data["drug_rules"]
    assert {r["drug_id"] for r in section["prior_auth"]} == {"qalsody", "nexviazyme", "adaone", "adatwo", "oldcode"}
    assert [r["drug_id"] for r in section["other"]] == ["dupcode"]
    # ?code=
    data = (await site.client.get("/-/payers/peach-health.json?code=J3490")).json()
    assert [r["drug_id"] for r in data["drug_rules"]["prior_auth"]] == ["qalsody"]
    assert data["drug_rules"]["other"] == [] and data["drug_rules"]["filters"] == {"code": "J3490", "date": None}
    # ?date= (rules in effect on that date of service)
    data = (await site.client.get("/-/payers/peach-health.json?date=2023-06-01")).json()
    assert {r["drug_id"] for r in data["drug_rules"]["prior_auth"]} == {"nexviazyme", "adaone", "adatwo", "oldcode"}
    data = (await site.client.get("/-/payers/peach-health.json?code=J3590&date=2024-01-02")).json()
    assert {r["drug_id"] for r in data["drug_rules"]["prior_auth"]} == {"qalsody", "adaone", "adatwo", "oldcode"}
    html = (await site.client.get("/-/payers/peach-health?code=J3490&date=2024-01-02")).text
    text = _text(html)
    assert "Showing the drug rules that name J3490 in effect on 2024-01-02." in text
    assert "Qalsody: prior authorization" in text and "Nexviazyme" not in text
    assert 'value="2024-01-02"' in html
    # bad input is a 400 naming the parameter
    for bad in ("2024-13-01", "tomorrow"):
        r = await site.client.get(f"/-/payers/peach-health.json?date={bad}")
        assert r.status_code == 400 and r.json()["error"].startswith("date:")
    # a payer without drug rules says so
    text = _text((await site.client.get("/-/payers/river-plan?code=J3490")).text)
    assert "No drug rule of this payer needing prior authorization matches." in text


async def test_payer_at_a_glance_says_by_drug_list(site):
    r = await site.client.get("/-/payers/peach-health")
    text = _text(r.text)
    assert re.search(r"Prior authorization By drug list ?: 5 drugs", text)
    data = (await site.client.get("/-/payers/peach-health.json")).json()
    pa = next(t for t in data["topics"] if t["topic"] == "prior_auth")
    assert pa["requirement"] == "drug_list" and pa["drug_list_drugs"] == 5 and pa["gap"]
    river = (await site.client.get("/-/payers/river-plan.json")).json()
    assert next(t for t in river["topics"] if t["topic"] == "prior_auth")["requirement"] == "required"


# --- matrix and code pages -----------------------------------------------------------------------

async def test_matrix_cell_by_drug_list(site):
    html = (await site.client.get("/-/matrix")).text
    assert re.search(r'<td class="cell req-drug_list foot-[a-z-]+"><a href="/-/payers/peach-health#drugs">By drug list: 5 drugs<small class="pk-foot">[a-z ]+</small></a></td>', html)
    data = (await site.client.get("/-/matrix.json")).json()
    cells = {p["id"]: p["cells"] for p in data["payers"]}
    assert cells["peach-health"]["prior_auth"] == "drug_list" and cells["peach-health"]["invoice"] == "unknown"
    assert cells["river-plan"]["prior_auth"] == "required"
    csv = (await site.client.get("/-/matrix.csv")).text
    assert "peach-health,Peach Health Plan,commercial,GA,,drug_list" in csv


async def test_code_page_by_drug_list(site):
    data = (await site.client.get("/-/codes/J3490.json")).json()
    peach = next(p for p in data["payers"] if p["id"] == "peach-health")
    assert peach["prior_auth"] == "drug_list" and peach["drug_list_drugs"] == 1  # only qalsody names J3490
    assert "prior_auth" not in peach["gaps"]
    html = (await site.client.get("/-/codes/J3590")).text
    assert '<a href="/-/payers/peach-health?code=J3590#drugs">' in html
    assert re.search(r'<td class="cell req-drug_list foot-[a-z-]+"><a href="/-/payers/peach-health\?code=J3590#drugs">By drug list: 5 drugs<small', html)
    # J9999: only a billing-unit drug rule, so prior authorization stays a gap
    peach = next(p for p in (await site.client.get("/-/codes/J9999.json")).json()["payers"] if p["id"] == "peach-health")
    assert peach["prior_auth"] == "unknown" and "prior_auth" in peach["gaps"]
    river = next(p for p in data["payers"] if p["id"] == "river-plan")
    assert river["prior_auth"] == "required"


def test_matrix_view_is_the_matrix_page(fixture_db, built_db):
    for path in (fixture_db, built_db):
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        page = {p["id"]: p for p in queries.matrix(conn)["payers"]}
        rows = conn.execute("select * from payer_matrix").fetchall()
        assert len(rows) == len(page)
        for row in rows:
            cells = page[row["payer_id"]]["cells"]
            assert {t: row[t] for t in cells} == cells, row["payer_id"]
            assert row["prior_auth_drugs"] == page[row["payer_id"]]["drug_list_drugs"]
    conn = sqlite3.connect(fixture_db)
    assert conn.execute("select prior_auth, prior_auth_drugs from payer_matrix where payer_id = 'peach-health'"
                        ).fetchone() == ("drug_list", 5)
    assert conn.execute("select prior_auth from payer_matrix where payer_id = 'river-plan'").fetchone() == ("required",)



# --- the real policies/ ---------------------------------------------------------------------------

async def test_real_drug_pages(ds):
    r = await ds.client.get("/-/drugs/qalsody")
    assert r.status_code == 200
    text = _text(r.text)
    assert "Anthem Blue Cross and Blue Shield (Georgia)" in text and "CC-0237" in text and "from 2023-11-01" in text
    assert "J1304" in text
    data = (await ds.client.get("/-/drugs/qalsody.json")).json()
    georgia = next(p for p in data["payers"] if p["id"] == "anthem-georgia")
    assert georgia["rules"][0]["sources"][0]["url"].startswith("https://providernews.anthem.com/georgia/")
    index = (await ds.client.get("/-/drugs.json")).json()
    assert index["total"] >= 100 and any(d["id"] == "qalsody" for d in index["drugs"])
    payer = (await ds.client.get("/-/payers/anthem-georgia.json?code=J3590&date=2024-01-15")).json()
    assert "qalsody" in {r["drug_id"] for r in payer["drug_rules"]["prior_auth"]}
    payer = (await ds.client.get("/-/payers/anthem-georgia.json?date=2023-10-31")).json()
    assert "qalsody" not in {r["drug_id"] for r in payer["drug_rules"]["prior_auth"]}
    assert (await ds.client.get("/-/payers/anthem-georgia")).status_code == 200


async def test_a_drug_page_is_found_by_ndc(ds, built_db):
    import sqlite3

    ndc, drug = sqlite3.connect(built_db).execute(
        "select ndc, drug_id from drug_ndcs order by drug_id, ndc limit 1").fetchone()
    for text, fmt in ((ndc, ""), (ndc.replace("-", ""), ".json")):
        r = await ds.client.get(f"/-/drugs/{text}{fmt}")
        assert r.status_code == 302 and r.headers["location"] == f"/-/drugs/{drug}{fmt}", text
    missing = await ds.client.get("/-/drugs/99999-9999-99")
    assert missing.status_code == 404 and "id or NDC" in missing.text
