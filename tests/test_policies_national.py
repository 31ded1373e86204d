"""National commercial insurers, Medicare Advantage plans, regional plans and federal workers' compensation
(policies/payers and policies/drug-rules written for them), read the way a user meets them: through the
built database and its canned queries. Drug rules are not in the database yet, so those tests read them
through db.validate.load_policies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from paths import shipped_policies
from kb_queries import canned as _canned, rows as _rows

POINT32 = ["harvard-pilgrim", "harvard-pilgrim-stride", "tufts-health-plan", "tufts-medicare-preferred", "carepartners-ct"]
OURS = POINT32 + ["dol-owcp", "aetna", "cigna"]
NOC = {"C9399", "J3490", "J3590", "J3591", "J9999", "J7599", "J7699", "J7799", "J7999", "J8499", "J8999"}


@pytest.fixture(scope="module")
def kb():
    kb, problems = shipped_policies()
    own = [p for p in problems if any(f"/{o}.yml" in str(p) for o in OURS)]
    assert own == [], own
    return kb


def _drug_rules(kb, payer: str) -> list:
    return [r for f in kb.drug_rules if f.model.payer_id == payer for r in f.model.drug_rules]


def test_new_payers_are_in_the_database_with_their_types(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select id, payer_type, states from payers")}
    expected = {"harvard-pilgrim": "commercial", "harvard-pilgrim-stride": "medicare_advantage",
                "tufts-health-plan": "commercial", "tufts-medicare-preferred": "medicare_advantage",
                "carepartners-ct": "medicare_advantage", "dol-owcp": "other"}
    for pid, ptype in expected.items():
        assert payers[pid]["payer_type"] == ptype, pid
    assert json.loads(payers["carepartners-ct"]["states"]) == ["CT"]


@pytest.mark.asyncio
async def test_point32health_plans_list_drugs_for_prior_auth_on_noc_codes(ds):
    j9999 = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J9999")}
    for pid in ("harvard-pilgrim", "harvard-pilgrim-stride", "tufts-health-plan", "tufts-medicare-preferred", "carepartners-ct"):
        assert j9999[pid]["requirement"] == "conditional", pid
    j3490 = {r["payer_id"] for r in await _canned(ds, "prior_auth_for_code", code="J3490")}
    assert "carepartners-ct" in j3490 and "harvard-pilgrim" not in j3490  # no Harvard Pilgrim J3490 row was found
    rows = await _canned(ds, "rules_for_payer_and_code", payer="harvard-pilgrim", code="J9999")
    pa = [r for r in rows if r["topic"] == "prior_auth"]
    assert len(pa) == 1 and "point32health.org/provider/?p=8723" in pa[0]["source_urls"]
    assert "harvardpilgrim.org/provider/prior-authorization" in pa[0]["source_urls"]


def test_harvard_pilgrim_drug_rules_give_code_date_and_reviewer(kb):
    rules = {r.id: r for r in _drug_rules(kb, "harvard-pilgrim")}
    assert len(rules) >= 14
    for rule in rules.values():
        assert set(rule.codes) <= NOC and rule.effective_from
        assert rule.drug in kb.drugs, rule.drug
    assert rules["tecentriq-hybreza-prior-auth-2024-11-01"].codes == ["J9999"]
    assert str(rules["ziihera-prior-auth-2025-02-01"].effective_from) == "2025-02-01"
    assert rules["vegzelma-step-therapy-2023-04-01"].topic == "step_therapy"
    assert rules["vegzelma-step-therapy-2023-04-01"].codes == ["J3590"]
    assert rules["avzivi-step-therapy-2025-06-01"].reviewer == "OncoHealth"
    # two notices disagree on when Docivyx and Imdelltra start: both rows kept, both conflicting
    for drug in ("docivyx", "imdelltra"):
        pair = [r for r in rules.values() if r.drug == drug]
        assert sorted(str(r.effective_from) for r in pair) == ["2024-08-01", "2024-10-01"]
        assert {r.status for r in pair} == {"conflicting"}


def test_medicare_advantage_rows_differ_from_commercial(kb):
    stride = {r.drug: r for r in _drug_rules(kb, "harvard-pilgrim-stride")}
    assert set(stride) == {"vyvgart-hytrulo", "tevimbra", "rytelo"}
    assert stride["vyvgart-hytrulo"].codes == ["J3590"] and str(stride["vyvgart-hytrulo"].effective_from) == "2023-12-01"
    assert "vyvgart-hytrulo" not in {r.drug for r in _drug_rules(kb, "tufts-health-plan")}
    tmp = {r.drug for r in _drug_rules(kb, "tufts-medicare-preferred")}
    assert tmp == {"epkinly", "vyvgart-hytrulo"}


def test_carepartners_new_to_market_drugs_on_j3490_and_j9999(kb):
    rules = {r.drug: r for r in _drug_rules(kb, "carepartners-ct")}
    assert rules["lunsumio"].codes == ["J9999"] and str(rules["lunsumio"].effective_from) == "2023-04-01"
    assert "no start date" in rules["lunsumio"].note  # the date comes from the page address, and says so
    assert str(rules["leqembi"].effective_from) == "2023-07-11"
    assert str(rules["qalsody"].effective_from) == "2023-08-01"
    assert {d for d, r in rules.items() if r.codes == ["J3490"]} == {"altuviiio", "lamzede", "leqembi", "qalsody"}
    src = kb.sources[rules["lunsumio"].sources[0].ref][0]
    assert str(src.url) == "https://www.carepartnersct.com/4-1-23-drugs" and src.kind == "official"


def test_owcp_needs_the_original_ndc_and_prices_from_awp(built_db):
    rules = {r["id"]: r for r in _rows(built_db, "select * from rules where payer_id = 'dol-owcp'")}
    ndc = rules["dol-owcp--ndc-physician-dispensed"]
    assert ndc["requirement"] == "conditional" and ndc["effective_from"] == "2012-06-17"
    codes = {r["code"] for r in _rows(built_db, "select code from rule_codes where rule_id = ?", ndc["id"])}
    assert codes == {"J3490", "J8499", "J8999", "J9999"}
    pricing = rules["dol-owcp--pricing-physician-dispensed"]
    assert pricing["pricing_basis"] == "awp" and pricing["percent"] is None
    assert rules["dol-owcp--narrative-no-code"]["requirement"] == "required"
    urls = {r["url"] for r in _rows(built_db, "select s.url from rule_sources rs join sources s on s.id = rs.source_id "
                                              "where rs.rule_id = ?", ndc["id"])}
    assert urls == {"http://dol.gov/owcp/regs/compliance/Pharmacy-Processing.htm"}


@pytest.mark.asyncio
async def test_aetna_and_cigna_have_only_their_j3490_emergency_room_answers(ds):
    aetna = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer="aetna", code="J3490")}
    assert aetna["pricing"]["requirement"] == "conditional" and aetna["pricing"]["pricing_basis"] == "manual_review"
    assert aetna["pricing"]["setting"] == "outpatient_facility"
    assert "no dollar threshold" in aetna["pricing"]["summary"]
    assert "mass.gov/info-details/nasal-naloxone-policies" in aetna["pricing"]["source_urls"]
    assert aetna["prior_auth"]["requirement"] == "conditional"  # new-to-market drugs on the precertification list
    assert "lakelandcare.com" in aetna["prior_auth"]["source_urls"]
    cigna = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer="cigna", code="J3490")}
    assert cigna["narrative"]["requirement"] == "conditional"
    assert "mass.gov" in cigna["narrative"]["source_urls"]
    cigna_j3590 = await _canned(ds, "rules_for_payer_and_code", payer="cigna", code="J3590")
    assert {r["requirement"] for r in cigna_j3590} == {"unknown"}  # nothing found for J3590
    aetna_j3590 = {r["topic"]: r["requirement"] for r in await _canned(ds, "rules_for_payer_and_code", payer="aetna", code="J3590")}
    assert aetna_j3590.pop("prior_auth") == "conditional" and set(aetna_j3590.values()) == {"unknown"}


def test_new_sources_are_dated_or_marked_undated_and_cited(kb):
    own_sources = [s for sid, (s, *_rest) in kb.sources.items()
                   if sid.startswith(("point32health-", "harvard-pilgrim-", "carepartners-ct-", "dol-owcp-", "aetna-"))]
    assert len(own_sources) >= 15
    for src in own_sources:
        assert src.undated or src.doc_date, src.id
        assert str(src.retrieved) == "2026-12-02", src.id


@pytest.mark.asyncio
async def test_unitedhealthcare_review_at_launch_and_self_administered_noc_lines(ds, built_db):
    pa = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3590")}
    assert pa["unitedhealthcare"]["requirement"] == "conditional"
    assert pa["unitedhealthcare"]["rule_id"] == "unitedhealthcare--prior-auth-review-at-launch"
    assert "unitedhealthcare-medicare-advantage" not in pa  # the program found is for commercial plans only
    rows = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer="unitedhealthcare", code="J8499")}
    sub = rows["submission"]
    assert sub["requirement"] == "conditional" and "2021-11-15" in sub["summary"]
    assert "uhcprovider.com" in sub["source_urls"] and "docslib.org/doc/9832764" in sub["source_urls"]
    codes = {r["code"] for r in _rows(built_db, "select code from rule_codes where rule_id = ?",
                                       "unitedhealthcare--submission-self-administered-on-noc")}
    assert codes == {"C9399", "J3490", "J3590", "J8499"}
    # the NDC rules still come from the shared UnitedHealthcare group
    ndc = [r for r in await _canned(ds, "rules_for_payer_and_code", payer="unitedhealthcare", code="J3490") if r["topic"] == "ndc"]
    assert {r["effective_from"] for r in ndc} == {"2017-01-01", "2018-09-01"}


def test_california_workers_comp_uses_unclassified_codes_and_medi_cal_rates(built_db):
    payer = _rows(built_db, "select payer_type, states from payers where id = 'california-dwc'")[0]
    assert payer["payer_type"] == "other" and json.loads(payer["states"]) == ["CA"]
    rules = {r["topic"]: r for r in _rows(built_db, "select * from rules where payer_id = 'california-dwc'")}
    assert rules["coding"]["requirement"] == "required"
    assert rules["ndc"]["requirement"] == "required"
    assert rules["pricing"]["pricing_basis"] == "fee_schedule" and "$4.46" in rules["pricing"]["summary"]
    urls = {r["url"] for r in _rows(built_db, "select s.url from rule_sources rs join sources s on s.id = rs.source_id "
                                              "where rs.rule_id = ?", rules["pricing"]["id"])}
    assert urls == {"https://www.dir.ca.gov/t8/9789_13_2.html", "https://www.dir.ca.gov/t8/9789_12_8.html"}


@pytest.mark.asyncio
async def test_emblemhealth_and_medica_prior_auth_by_drug_list(ds, built_db):
    j3490 = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3490")}
    assert j3490["emblemhealth"]["requirement"] == "conditional" and "POS 11" in j3490["emblemhealth"]["summary"]
    assert j3490["medica"]["requirement"] == "conditional" and j3490["medica"]["effective_from"] == "2014-01-01"
    assert j3490["medica"]["as_of"] == "2017-05-29"  # the date stamped on the Medica page
    units = _rows(built_db, "select requirement from rules where id = 'medica--units-prepayment-edits'")
    assert units == [{"requirement": "conditional"}]
    rows = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer="emblemhealth", code="J3590")}
    assert rows["ndc"]["requirement"] == "unknown" and rows["invoice"]["requirement"] == "unknown"


@pytest.mark.asyncio
async def test_healthpartners_reviews_new_drugs_and_pays_them_from_awp(ds):
    rows = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer="healthpartners", code="J3590")}
    assert rows["prior_auth"]["requirement"] == "conditional" and "provider liability" in rows["prior_auth"]["summary"]
    assert rows["pricing"]["pricing_basis"] == "awp" and rows["pricing"]["percent"] is None
    assert "healthpartners.com/public/coverage-criteria" in rows["pricing"]["source_urls"]
    assert rows["invoice"]["requirement"] == "unknown"


@pytest.mark.asyncio
async def test_priority_health_prior_auth_by_medical_drug_list_reaches_both_lines(ds):
    for payer in ("priority-health", "priority-health-medicaid"):
        rows = {r["topic"]: r for r in await _canned(ds, "rules_for_payer_and_code", payer=payer, code="J3490")}
        assert rows["prior_auth"]["requirement"] == "conditional", payer
        assert "priorityhealth.com/provider/manual/drugs" in rows["prior_auth"]["source_urls"]
        assert rows["narrative"]["requirement"] == "required"  # the older group rules are still there
