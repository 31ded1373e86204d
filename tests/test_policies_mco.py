"""Medicaid managed-care plans (Molina, CareSource, AmeriHealth Caritas, Centene plans, Elevance's
Medicaid brands, BCBSIL Medicaid, Texas and California local plans), checked through the built
database; drug rules, which the build does not load yet, through db.validate.load_policies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from paths import shipped_policies
from kb_queries import canned as _canned, rows as _rows, urls as _urls


def _rule(db: Path, payer: str, key: str) -> dict:
    [row] = _rows(db, "select * from rules where payer_id = ? and rule_key = ?", payer, key)
    return row


def _drug_rules(payer: str) -> dict:
    kb, _ = shipped_policies()
    [f] = [f for f in kb.drug_rules if f.model.payer_id == payer]
    return kb, {r.id: r for r in f.model.drug_rules}


NEW_MCOS = {
    "bcbs-illinois-medicaid": "IL",
    "caresource-ohio": "OH",
    "amerihealth-caritas-nh": "NH",
    "community-first-health-plans": "TX",
    "buckeye-health-plan": "OH",
    "anthem-blue-cross-ca-medi-cal": "CA",
    "health-plan-of-san-joaquin": "CA",
    "health-net-ca-medi-cal": "CA",
    "molina-new-york": "NY",
    "optima-health": "VA",
    "louisiana-healthcare-connections": "LA",
    "cencal-health": "CA",
    "healthy-blue-nc": "NC",
    "carolina-complete-health": "NC",
    "el-paso-health": "TX",
    "superior-healthplan": "TX",
    "healthy-blue-ne": "NE",
    "cook-childrens-health-plan": "TX",
    "molina-washington": "WA",
}


def test_new_mcos_are_medicaid_mcos_in_their_state(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select * from payers where payer_type = 'medicaid_mco'")}
    for pid, state in NEW_MCOS.items():
        assert pid in payers, pid
        assert json.loads(payers[pid]["states"]) == [state], pid


def test_bcbsil_medicaid_ndc_check_changed_on_2019_07_25(built_db):
    now = _rule(built_db, "bcbs-illinois-medicaid", "ndc")
    old = _rule(built_db, "bcbs-illinois-medicaid", "ndc-medispan-all-lines")
    assert (now["requirement"], now["effective_from"], now["status"]) == ("required", "2019-07-25", "sourced")
    assert (old["status"], old["effective_to"]) == ("superseded", "2019-07-24")
    assert "https://www.bcbsilcommunications.com/newsletters/br/2019/sept/gov_programs.html" in _urls(built_db, now["id"])
    assert "rebate" in now["summary"].lower()
    sub = _rule(built_db, "bcbs-illinois-medicaid", "submission-ndc-rejects")
    assert sub["effective_from"] == "2019-03-01" and "STC12" in sub["summary"]


def test_caresource_ohio_specialty_claims_need_jcode_ndc_and_rev_636(built_db):
    ndc = _rule(built_db, "caresource-ohio", "ndc")
    assert ndc["requirement"] == "required" and "636" in ndc["summary"]
    assert _urls(built_db, ndc["id"]) == {"https://www.caresource.com/oh/providers/education/patient-care/pharmacy/medicaid/"}
    spbm = _rule(built_db, "caresource-ohio", "submission-pharmacy-billers")
    assert (spbm["requirement"], spbm["effective_from"]) == ("conditional", "2022-10-01")
    assert _rule(built_db, "caresource-ohio", "prior-auth-specialty")["requirement"] == "conditional"


@pytest.mark.asyncio
async def test_amerihealth_caritas_nh_invoice_goes_as_275_with_code_06(ds, built_db):
    rows = {r["payer_id"]: r for r in await _canned(ds, "invoice_required_by_threshold", code="J3490")}
    nh = rows["amerihealth-caritas-nh"]
    assert nh["requirement"] == "conditional" and nh["threshold_usd"] is None
    assert "no dollar threshold" in nh["summary"] and "87716" in nh["summary"]
    rule = _rule(built_db, "amerihealth-caritas-nh", "invoice-275-attachment")
    assert rule["submission_channel"] == "electronic"
    assert {"cms1500-item19", "ub04-fl80"} <= set(json.loads(rule["claim_field"]))


@pytest.mark.asyncio
async def test_community_first_ndc_rule_covers_unlisted_codes(ds, built_db):
    rows = await _canned(ds, "rules_for_payer_and_code", payer="community-first-health-plans", code="J3490")
    ndc = [r for r in rows if r["topic"] == "ndc"]
    assert [(r["requirement"], r["status"]) for r in ndc] == [("required", "sourced")]
    assert ndc[0]["source_urls"] == "https://communityfirsthealthplans.com/hhsc-news/provider-notice-ndc-billing-guidelines"
    assert "unlisted" in ndc[0]["summary"]


def test_buckeye_riabni_on_j3590_needs_prior_auth_from_2021_12_01(built_db):
    pa = _rule(built_db, "buckeye-health-plan", "prior-auth-drug-list")
    assert pa["requirement"] == "conditional"
    kb, rules = _drug_rules("buckeye-health-plan")
    r = rules["riabni-prior-auth-2021-12-01"]
    assert (r.drug, r.codes, str(r.effective_from), r.requirement) == ("riabni", ["J3590"], "2021-12-01", "required")
    assert kb.sources[r.sources[0].ref][0].url.startswith("https://www.buckeyehealthplan.com/")


@pytest.mark.asyncio
async def test_anthem_medi_cal_noc_drugs_need_prior_auth_from_2021_07_01(ds):
    for code in ("J3490", "J9999", "C9399"):
        rows = [r for r in await _canned(ds, "prior_auth_for_code", code=code) if r["payer_id"] == "anthem-blue-cross-ca-medi-cal"]
        assert [(r["requirement"], r["effective_from"]) for r in rows] == [("conditional", "2021-07-01")], code
    kb, rules = _drug_rules("anthem-blue-cross-ca-medi-cal")
    got = {r.drug: (r.codes, r.criteria_id) for r in rules.values()}
    assert got["monjuvi"] == (["J3490", "J3590", "J9999"], "ING-CC-0180")
    assert got["tecartus"] == (["J9999"], "ING-CC-0168")
    assert got["veklury"] == (["J3490"], "ING-CC-0181")
    assert {str(r.effective_from) for r in rules.values()} == {"2021-07-01"}
    assert len(rules) == 7


@pytest.mark.asyncio
async def test_hpsj_oncology_prior_auth_ndc_and_xacduro_on_j3490(ds, built_db):
    onc = _rule(built_db, "health-plan-of-san-joaquin", "prior-auth-oncology-drugs")
    assert (onc["requirement"], onc["effective_from"]) == ("conditional", "2021-06-01")
    assert _urls(built_db, onc["id"]) == {"https://www.hpsj.com/reminder-and-support-from-hpsj/"}
    rows = [r for r in await _canned(ds, "prior_auth_for_code", code="J3490") if r["payer_id"] == "health-plan-of-san-joaquin"]
    assert {(r["requirement"], r["effective_from"]) for r in rows} == {("conditional", "2021-06-01"), ("conditional", "2024-12-09")}
    assert _rule(built_db, "health-plan-of-san-joaquin", "ndc")["requirement"] == "required"
    kb, rules = _drug_rules("health-plan-of-san-joaquin")
    r = rules["xacduro-prior-auth-2024-12-09"]
    assert (r.codes, str(r.effective_from), r.criteria_id) == (["J3490"], "2024-12-09", "UM06")
    assert str(kb.sources[r.sources[0].ref][0].doc_date) == "2024-09-30"


def test_health_net_medi_cal_contests_claims_without_a_valid_ndc_hcpcs_pair(built_db):
    ndc = _rule(built_db, "health-net-ca-medi-cal", "ndc")
    assert ndc["requirement"] == "required" and "contest" in ndc["summary"]
    assert "crossover" in ndc["summary"]
    [url] = _urls(built_db, ndc["id"])
    assert url.startswith("https://providerlibrary.healthnetcalifornia.com/medi-cal/")
    assert _rule(built_db, "health-net-ca-medi-cal", "coding-ndc-hcpcs-pair")["topic"] == "coding"


@pytest.mark.asyncio
async def test_molina_j3591_prior_auth_from_2019_04_01_for_all_molina_plans(ds, built_db):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3591") if r["payer_id"].startswith("molina-")}
    for pid in ("molina-new-york", "molina-new-mexico"):
        assert (rows[pid]["requirement"], rows[pid]["effective_from"]) == ("required", "2019-04-01"), pid
    [src] = _rows(built_db, "select * from sources where id = 'molina-new-york-mhi-2019-q2-updates-copy'")
    assert src["kind"] == "secondary" and src["doc_date"] == "2019-03-27"
    ny = _rule(built_db, "molina-new-york", "prior-auth-pad-matrix")
    assert (ny["requirement"], ny["effective_from"], ny["has_official_source"]) == ("conditional", "2020-07-01", 0)


def test_owned_plans_gained_prior_auth_rules(built_db):
    tchp = _rule(built_db, "texas-childrens-health-plan", "prior-auth-high-cost-injectables")
    assert (tchp["threshold_usd"], tchp["effective_from"]) == (50000, "2019-01-01")
    assert _urls(built_db, tchp["id"]) == {"https://www.texaschildrenshealthplan.org/2019/02/01/provider-alert-prior-authorization-alert"}
    mfc = _rule(built_db, "medstar-family-choice", "prior-auth-high-cost-medications")
    assert mfc["requirement"] == "conditional" and mfc["threshold_usd"] is None and "$500,000" in mfc["summary"]
    icr = _rule(built_db, "unicare-wv", "submission-prior-auth-icr")
    assert (icr["requirement"], icr["effective_from"]) == ("required", "2024-07-01")
    assert _rule(built_db, "unicare-wv", "prior-auth-pad")["requirement"] == "conditional"


@pytest.mark.asyncio
async def test_optima_needs_an_ndc_on_every_miscellaneous_drug_code_from_2006(ds, built_db):
    rows = await _canned(ds, "rules_for_payer_and_code", payer="optima-health", code="J3490")
    by_topic = {r["topic"]: r for r in rows}
    assert (by_topic["ndc"]["requirement"], by_topic["ndc"]["effective_from"]) == ("required", "2006-04-01")
    assert by_topic["ndc"]["source_urls"].endswith("/News/Archive/AWPFlashFax.htm")
    assert "00-000-000-0000" in by_topic["coding"]["summary"]
    assert by_topic["pricing"]["requirement"] == "unknown"  # the notice gives no pricing basis


def test_lhc_340b_modifier_rule_from_2026_and_specialty_prior_auth(built_db):
    mod = _rule(built_db, "louisiana-healthcare-connections", "modifiers-340b-pad")
    assert (mod["requirement"], mod["effective_from"]) == ("required", "2026-01-01")
    [src] = _rows(built_db, "select * from rule_citations where rule_id = ?", mod["id"])
    assert (src["doc_date"], src["kind"]) == ("2025-09-23", "official")
    assert _rule(built_db, "louisiana-healthcare-connections", "prior-auth-specialty-drugs")["requirement"] == "conditional"
    tar = _rule(built_db, "cencal-health", "prior-auth-pad-tar")
    assert tar["requirement"] == "conditional" and "TAR" in tar["summary"]


@pytest.mark.asyncio
async def test_el_paso_health_drugs_over_500_need_prior_auth(ds):
    for code in ("J3590", "J9999"):
        rows = [r for r in await _canned(ds, "prior_auth_for_code", code=code) if r["payer_id"] == "el-paso-health"]
        assert [(r["requirement"], r["threshold_usd"]) for r in rows] == [("conditional", 500)], code


def test_north_carolina_plans_padp_prior_auth_and_pricing(built_db):
    hb = _rule(built_db, "healthy-blue-nc", "prior-auth-padp")
    assert hb["requirement"] == "not_required"
    price = _rule(built_db, "healthy-blue-nc", "pricing-padp-fee-schedule")
    assert price["pricing_basis"] == "fee_schedule"
    assert _urls(built_db, price["id"]) == {"https://provider.healthybluenc.com/north-carolina-provider/physician-administered-drug-program"}
    cch = _rule(built_db, "carolina-complete-health", "prior-auth-pdp")
    assert cch["requirement"] == "conditional" and "off-label" in cch["summary"].lower()
    sup = _rule(built_db, "superior-healthplan", "prior-auth-cad")
    assert sup["requirement"] == "conditional" and "not contracted" in sup["summary"]


@pytest.mark.asyncio
async def test_elevance_medicaid_criteria_pages_name_noc_codes(ds):
    expected = {"healthy-blue-ne": "prior-auth-medical-benefit-criteria", "unicare-wv": "prior-auth-wv-criteria-noc"}
    for payer, code in (("healthy-blue-ne", "C9399"), ("healthy-blue-ne", "J8499"), ("unicare-wv", "C9399"), ("unicare-wv", "J8499")):
        rows = [r for r in await _canned(ds, "prior_auth_for_code", code=code) if r["payer_id"] == payer]
        [crit] = [r for r in rows if r["rule_id"].endswith(expected[payer])]
        assert crit["requirement"] == "conditional", (payer, code)
    j7599 = [r for r in await _canned(ds, "prior_auth_for_code", code="J7599") if r["payer_id"] == "healthy-blue-ne"]
    assert j7599 == []  # the Nebraska list names no J7599 row
    rows = await _canned(ds, "rules_for_payer_and_code", payer="healthy-blue-ne", code="J3490")
    [pa] = [r for r in rows if r["topic"] == "prior_auth"]
    assert "CC-0038 NE" in pa["summary"] and pa["source_urls"].endswith("/clinicalcriteria/home/NE.html")


@pytest.mark.asyncio
async def test_cook_childrens_cad_and_10000_dollar_medications_need_prior_auth(ds):
    rows = [r for r in await _canned(ds, "prior_auth_for_code", code="J3490") if r["payer_id"] == "cook-childrens-health-plan"]
    assert [(r["requirement"], r["threshold_usd"]) for r in rows] == [("conditional", 10000)]
    assert "Navitus" in rows[0]["summary"]


def test_molina_washington_and_health_net_prior_auth(built_db):
    wa = _rule(built_db, "molina-washington", "prior-auth-hca-criteria")
    assert wa["requirement"] == "conditional" and "Health Care Authority" in wa["summary"]
    carve = _rule(built_db, "molina-washington", "submission-sickle-cell-gene-therapy-ffs")
    assert carve["topic"] == "submission" and "fee-for-service" in carve["summary"]
    hn = _rule(built_db, "health-net-ca-medi-cal", "prior-auth-list")
    assert (hn["requirement"], hn["effective_from"]) == ("conditional", "2024-08-01")
