"""Anthem (Elevance Health) BCBS plans, one payer per state, read through the built database."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from kb_queries import canned as _canned, rows as _rows

# state slug -> postal code; each plan is its own payer anthem-<slug>
ANTHEM = {
    "california": "CA", "colorado": "CO", "connecticut": "CT", "georgia": "GA", "indiana": "IN", "kentucky": "KY",
    "maine": "ME", "missouri": "MO", "nevada": "NV", "new-hampshire": "NH", "new-york": "NY", "ohio": "OH",
    "virginia": "VA", "wisconsin": "WI",
}
# states whose own provider news carries specialty pharmacy prior authorization lists with NOC codes
OURS = {f"anthem-{slug}" for slug in ANTHEM}
WITH_PA_LISTS = ["connecticut", "georgia", "indiana", "kentucky", "maine", "missouri", "new-hampshire", "new-york", "ohio", "virginia", "wisconsin"]


def _sources(db: Path, rule_id: str) -> list[dict]:
    return _rows(db, "select s.* from rule_sources rs join sources s on s.id = rs.source_id where rs.rule_id = ?", rule_id)


def test_every_anthem_state_is_its_own_bcbs_payer(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select * from payers where id like 'anthem-%'") if r["id"] in OURS}
    assert set(payers) == OURS
    for slug, state in ANTHEM.items():
        p = payers[f"anthem-{slug}"]
        assert p["payer_type"] == "bcbs" and p["parent_org"] == "Elevance Health"
        assert json.loads(p["states"]) == [state]
        assert p["website"].rstrip("/") == f"https://providernews.anthem.com/{slug}"
    assert "Empire BlueCross BlueShield" in json.loads(payers["anthem-new-york"]["aliases"])
    assert "HealthKeepers" in json.loads(payers["anthem-virginia"]["aliases"])
    assert payers["anthem-california"]["name"] == "Anthem Blue Cross (California)"


@pytest.mark.asyncio
async def test_specialty_drug_prior_auth_on_noc_codes_is_conditional_in_each_state_with_lists(ds):
    for code in ("J3490", "J3590"):
        rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code=code)
                if r["payer_id"] in OURS}
        assert set(rows) == {f"anthem-{s}" for s in WITH_PA_LISTS}, code
        assert {r["requirement"] for r in rows.values()} == {"conditional"}
        assert all(r["threshold_usd"] is None for r in rows.values())
    j9999 = {r["payer_id"] for r in await _canned(ds, "prior_auth_for_code", code="J9999")}
    assert "anthem-new-hampshire" in j9999 and "anthem-ohio" not in j9999  # Ohio's lists name no J9999 row


def test_each_state_rests_on_its_own_provider_news_pages(built_db):
    """Never one state's notice copied to another: every Anthem rule cites pages of its own state."""
    rules = [r for r in _rows(built_db, "select id, payer_id from rules where payer_id like 'anthem-%' and origin != 'gap'")
             if r["payer_id"] in OURS]
    assert len(rules) >= 19
    for rule in rules:
        slug = rule["payer_id"].removeprefix("anthem-")
        urls = [s["url"] for s in _sources(built_db, rule["id"])]
        assert urls, rule["id"]
        for url in urls:
            own = url.startswith(f"https://providernews.anthem.com/{slug}/")
            if slug == "new-york":
                own = own or url.startswith("https://providernews.empireblue.com/")
            assert own, (rule["id"], url)


def test_virginia_refuses_office_injections_without_ndc(built_db):
    rule = _rows(built_db, "select * from rules where id = 'anthem-virginia--ndc-office-injections'")[0]
    assert (rule["topic"], rule["setting"], rule["requirement"], rule["status"]) == ("ndc", "professional", "required", "sourced")
    urls = {s["url"] for s in _sources(built_db, rule["id"])}
    assert "https://providernews.anthem.com/virginia/articles/specialty-pharmacy-updates-for-august-2023-14743" in urls
    dates = {s["doc_date"] for s in _sources(built_db, rule["id"])}
    assert {"2022-03-01", "2023-08-01"} <= dates


def test_the_noc_ndc_note_is_a_request_not_a_denial(built_db):
    rows = _rows(built_db, "select payer_id, requirement, codes, summary from rules where rule_key = 'ndc-noc-lines'")
    by_payer = {r["payer_id"]: r for r in rows}
    assert {f"anthem-{s}" for s in ("connecticut", "indiana", "kentucky", "missouri", "new-hampshire", "new-york", "ohio",
                                    "virginia", "wisconsin")} <= set(by_payer)
    assert {r["requirement"] for r in rows if r["payer_id"] in OURS} == {"conditional"}
    assert set(json.loads(by_payer["anthem-ohio"]["codes"])) == {"C9399", "J3490", "J3590"}


def test_maine_and_georgia_require_the_ndc_on_every_drug_line_from_their_dates(built_db):
    from payerkb.check import check_claim

    me = _rows(built_db, "select * from rules where id = 'anthem-maine--ndc'")[0]
    assert (me["requirement"], me["effective_from"]) == ("required", "2020-12-16")
    assert json.loads(me["ndc_unit_qualifiers"]) == ["F2", "GR", "ML", "UN", "ME"]
    assert any(s["url"].endswith("national-drug-code-requirement-on-outpatient-claims-5-5841") and s["doc_date"] == "2020-10-01"
               for s in _sources(built_db, me["id"]))
    assert not _rows(built_db, "select id from rules where id = 'anthem-maine--ndc-noc-lines'")  # replaced by the requirement
    ga = _rows(built_db, "select * from rules where id = 'anthem-georgia--ndc'")[0]
    assert (ga["requirement"], ga["effective_from"]) == ("required", "2019-11-01")

    line = {"payer_id": "anthem-maine", "hcpcs": "J3490", "setting": "professional", "units": 1}
    errors = lambda result: [f["rule_id"] for f in result["findings"] if f["severity"] == "error"]  # noqa: E731
    assert errors(check_claim(line | {"date_of_service": "2021-01-05"}, built_db)) == ["anthem-maine--ndc"]
    assert errors(check_claim(line | {"date_of_service": "2020-12-01"}, built_db)) == []


def test_nevada_ndc_notice_and_the_states_without_public_rules(built_db):
    nv = _rows(built_db, "select * from rules where id = 'anthem-nevada--ndc'")[0]
    assert (nv["requirement"], nv["ndc_format"]) == ("required", "11_digit_no_separators")
    assert "cms1500-24a-shaded" in json.loads(nv["claim_field"])
    assert [s["doc_date"] for s in _sources(built_db, nv["id"])] == ["2025-06-04"]
    mo = _rows(built_db, "select * from rules where id = 'anthem-missouri--ndc-noc-lines'")[0]
    assert (mo["requirement"], mo["status"]) == ("conditional", "sourced")
    assert sorted(s["doc_date"] for s in _sources(built_db, mo["id"])) == ["2022-10-01", "2024-01-24"]
    mo_pa = _sources(built_db, "anthem-missouri--prior-auth-specialty-noc")  # the 2022 notice has no NOC rows: not cited for PA
    assert [s["doc_date"] for s in mo_pa] == ["2024-01-24"]
    for slug in ("california", "colorado"):
        rows = _rows(built_db, "select requirement, origin from rules where payer_id = ?", f"anthem-{slug}")
        assert rows and {(r["requirement"], r["origin"]) for r in rows} == {("unknown", "gap")}, slug
        note = _rows(built_db, "select note from payers where id = ?", f"anthem-{slug}")[0]["note"]
        assert "Searched stored pages December 2026" in note


def test_new_york_rules_name_empire_and_its_rebranding(built_db):
    rule = _rows(built_db, "select summary from rules where id = 'anthem-new-york--prior-auth-specialty-noc'")[0]
    assert "Empire" in rule["summary"] and "2024-01-01" in rule["summary"]
    srcs = _sources(built_db, "anthem-new-york--prior-auth-specialty-noc")
    undated = [s for s in srcs if s["undated"]]
    assert [s["url"] for s in undated] == ["https://providernews.empireblue.com/article/specialty-pharmacy-updates-december-2021-4"]
