"""Blue Cross Blue Shield plans other than Anthem/Elevance, checked through the built database
(and, for drug rules, which the build does not load yet, through db.validate.load_policies)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from paths import POLICIES, shipped_policies
from kb_queries import canned as _canned, rows as _rows, rule as _rule, urls as _urls

BCBS_FILES = [
    POLICIES / "payers" / f"{p}.yml"
    for p in dict.fromkeys((
        "bcbs-michigan", "blue-care-network-michigan", "bcbs-rhode-island", "bcbs-south-carolina",
        "carefirst", "horizon-bcbs-nj", "horizon-nj-health", "bcbs-kansas", "bcbs-oklahoma",
        "bcbs-new-mexico", "bcbs-north-carolina", "bcbs-illinois", "blue-cross-nc-medicare-advantage",
        "premera", "bcbs-louisiana", "regence", "bcbs-tennessee", "bcbs-alabama", "bcbs-fep",
        "blue-kc", "bcbs-texas", "independence-blue-cross", "bcbs-massachusetts", "excellus",
        "carefirst", "premera", "bcbs-south-carolina", "horizon-bcbs-nj", "horizon-nj-health",
        "capital-blue-cross", "arkansas-blue-cross", "blue-shield-ca", "bcbs-kansas",
    ))
]


def test_new_bcbs_plans_are_payers_of_type_bcbs(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select id, payer_type, states from payers")}
    for pid, state in [("bcbs-michigan", "MI"), ("blue-care-network-michigan", "MI"), ("bcbs-rhode-island", "RI"),
                       ("bcbs-south-carolina", "SC"), ("horizon-bcbs-nj", "NJ"), ("bcbs-kansas", "KS"),
                       ("bcbs-oklahoma", "OK"), ("bcbs-new-mexico", "NM"), ("bcbs-north-carolina", "NC")]:
        assert payers[pid]["payer_type"] == "bcbs", pid
        assert state in json.loads(payers[pid]["states"]), pid
    assert json.loads(payers["carefirst"]["states"]) == ["MD", "DC", "VA"]
    assert payers["horizon-nj-health"]["payer_type"] == "medicaid_mco"


def test_bcbs_michigan_ndc_from_feb_2015_without_milligrams(built_db):
    rule = _rule(built_db, "bcbs-michigan--ndc")
    assert (rule["requirement"], rule["effective_from"]) == ("required", "2015-02-01")
    assert set(json.loads(rule["ndc_unit_qualifiers"])) == {"GR", "ML", "UN"}
    assert rule["ndc_format"] == "11_digit_no_separators"
    assert "minimum fee schedule" in rule["summary"]
    assert "https://www.bcbsm.com/content/dam/microsites/corpcomm/provider/the_record/2015/record_0215/Record_0215k.shtml" in _urls(built_db, "bcbs-michigan--ndc")


def test_bcbs_michigan_prior_auth_is_by_drug_list_from_january_2013(built_db):
    rule = _rule(built_db, "bcbs-michigan--prior-auth-medical-drug-program")
    assert (rule["requirement"], rule["effective_from"], rule["topic"]) == ("conditional", "2013-01-22", "prior_auth")
    assert "FEP" in rule["summary"]


def test_bcbs_michigan_drug_rules_name_the_noc_codes_and_start_dates():
    kb, _ = shipped_policies()
    [rules_file] = [f for f in kb.drug_rules if f.model.payer_id == "bcbs-michigan"]
    rules = {r.drug: r for r in rules_file.model.drug_rules}
    assert (rules["cinqair"].codes, rules["cinqair"].effective_from) == (["J3490", "J3590"], "2016-06-01")
    assert (rules["kymriah"].codes, rules["kymriah"].effective_from) == (["J3490", "J3590", "J9999"], "2017-12-01")
    assert (rules["khapzory"].codes, rules["khapzory"].effective_from) == (["J3490"], "2019-07-01")
    assert (rules["onpattro"].codes, rules["onpattro"].effective_from) == (["J3490"], "2018-12-01")
    assert all(r.topic == "prior_auth" and r.requirement == "required" for r in rules.values())
    src = kb.sources[rules["kymriah"].sources[0].ref][0]
    assert src.url.endswith("/the_record/2017/record_1117/Record_1117r.shtml") and src.kind == "official"
    assert {"cinqair", "kymriah", "khapzory"} <= set(kb.drugs)
    assert kb.drugs["kymriah"].model.generic_name == "tisagenlecleucel"


@pytest.mark.asyncio
async def test_blue_care_network_reviews_every_j3490_and_j3590_drug(ds):
    for code in ("J3490", "J3590"):
        rows = [r for r in await _canned(ds, "prior_auth_for_code", code=code) if r["payer_id"] == "blue-care-network-michigan"]
        assert [(r["requirement"], r["threshold_usd"]) for r in rows] == [("required", None)], code
    rows = [r for r in await _canned(ds, "prior_auth_for_code", code="J9999") if r["payer_id"] == "blue-care-network-michigan"]
    assert rows == []  # the notice names J3490 and J3590 only


def test_rhode_island_rests_on_a_secondary_copy_and_asks_for_the_ndc(built_db):
    pa = _rule(built_db, "bcbs-rhode-island--prior-auth-drug-list")
    assert pa["requirement"] == "conditional" and "Prime Therapeutics" in pa["summary"]
    assert pa["has_official_source"] == 0
    kinds = {r["kind"] for r in _rows(built_db, "select kind from rule_citations where rule_id = ?", pa["id"])}
    assert kinds == {"secondary"}
    assert _rule(built_db, "bcbs-rhode-island--coding-unlisted-with-ndc")["requirement"] == "conditional"
    ndc = _rule(built_db, "bcbs-rhode-island--ndc")
    assert (ndc["requirement"], ndc["effective_from"], ndc["has_official_source"]) == ("required", "2022-07-01", 1)
    assert "x56" in ndc["summary"]


def test_south_carolina_ndc_from_2016_with_gateway_rejects(built_db):
    rule = _rule(built_db, "bcbs-south-carolina--ndc")
    assert (rule["requirement"], rule["effective_from"]) == ("required", "2016-01-01")
    assert set(json.loads(rule["ndc_unit_qualifiers"])) == {"UN", "ML", "GR", "F2"}
    assert "2016-03-25" in rule["summary"]
    dates = {r["doc_date"] for r in _rows(built_db, "select doc_date from rule_citations where rule_id = ?", rule["id"])}
    assert dates == {"2015-11-12", "2016-03-24"}


def test_carefirst_denies_drug_claims_without_ndc_from_2018(built_db):
    rule = _rule(built_db, "carefirst--ndc")
    assert (rule["requirement"], rule["effective_from"]) == ("required", "2018-01-01")
    assert set(json.loads(rule["claim_field"])) == {"837p-2410-lin-ctp", "ub04-fl43"}
    [cit] = _rows(built_db, "select doc_date, url from rule_citations where rule_id = ?", rule["id"])
    assert cit["doc_date"] == "2017-11-06" and cit["url"].startswith("https://provider.carefirst.com/")


def test_horizon_prices_through_a_source_ladder_and_reviews_injectables(built_db):
    pricing = _rule(built_db, "horizon-bcbs-nj--pricing-professional")
    assert (pricing["setting"], pricing["effective_from"], pricing["percent"]) == ("professional", "2016-03-15", None)
    assert "Magellan Rx" in pricing["summary"]
    [cit] = _rows(built_db, "select doc_date from rule_citations where rule_id = ?", pricing["id"])
    assert cit["doc_date"] == "2023-03-23"  # last reviewed date shown on the policy
    assert _rule(built_db, "horizon-bcbs-nj--prior-auth-medical-injectables")["requirement"] == "conditional"


def test_horizon_nj_health_checks_ndc_quantity_against_twice_the_billed_amount(built_db):
    units = _rule(built_db, "horizon-nj-health--units-ndc-quantity-check")
    assert units["unit_rule"] == "ndc_units" and "twice the billed amount" in units["summary"]
    ndc = _rule(built_db, "horizon-nj-health--ndc")
    assert "ME" not in json.loads(ndc["ndc_unit_qualifiers"])


def test_hcsc_plans_new_mexico_and_oklahoma(built_db):
    nm = _rule(built_db, "bcbs-new-mexico--pricing")
    assert (nm["pricing_basis"], nm["effective_from"], nm["percent"]) == ("ndc_fee_schedule", "2013-11-01", None)
    assert _rule(built_db, "bcbs-new-mexico--ndc")["effective_from"] == "2013-11-01"
    ok = _rule(built_db, "bcbs-oklahoma--submission-electronic")
    assert ok["submission_channel"] == "either"
    assert "837p-2410-lin-ctp" in json.loads(_rule(built_db, "bcbs-oklahoma--ndc")["claim_field"])


def test_kansas_ndc_must_be_on_the_drug_files(built_db):
    rule = _rule(built_db, "bcbs-kansas--ndc-format")
    assert rule["requirement"] == "required" and "Medi-Span" in rule["summary"]
    assert rule["ndc_format"] is None  # the newsletter does not say whether hyphens are sent


def test_blue_cross_nc_start_date_for_commercial_and_medicare_advantage(built_db):
    commercial = _rule(built_db, "bcbs-north-carolina--ndc-select-drug-codes")
    assert (commercial["requirement"], commercial["effective_from"]) == ("conditional", "2022-07-26")
    ma = _rule(built_db, "blue-cross-nc-medicare-advantage--ndc")
    assert ma["effective_from"] == "2022-07-26"
    assert any(u.endswith("reminder-national-drug-codes-required-select-drugs-effective-july-2022") for u in _urls(built_db, ma["id"]))


def test_bcbs_illinois_denies_unlisted_j_codes_when_a_specific_code_exists(built_db):
    rule = _rule(built_db, "bcbs-illinois--coding-specific-code-first")
    assert (rule["requirement"], rule["effective_from"]) == ("required", "2009-02-01")
    assert _urls(built_db, rule["id"]) == {"http://www.bcbsil.com/provider/standards/unlisted_jcodes.html"}
    assert "http://www.bcbsil.com/provider/education/2013/2013_08_28.html" in _urls(built_db, "bcbs-illinois--ndc")


def test_bcbs_rules_are_in_our_words_and_every_source_is_dated_or_marked_undated():
    quote = re.compile(r"[\"“”]")
    for path in BCBS_FILES:
        data = yaml.safe_load(path.read_text())
        for rule in data.get("rules") or []:
            for key in ("summary", "note"):
                assert not quote.search(rule.get(key) or ""), f"{path.name} {rule['id']}: no quotations in {key}"
        for src in data.get("sources") or []:
            assert bool(src.get("doc_date")) != bool(src.get("undated")), f"{path.name} {src['id']}"
            assert src["retrieved"] and src["kind"] in ("official", "secondary")


def test_premera_rejects_drug_claims_without_ndc_from_2018(built_db):
    rule = _rule(built_db, "premera--ndc")
    assert (rule["requirement"], rule["effective_from"]) == ("required", "2018-01-01")
    [cit] = _rows(built_db, "select doc_date, kind from rule_citations where rule_id = ?", rule["id"])
    assert (cit["doc_date"], cit["kind"]) == ("2017-12-07", "official")


@pytest.mark.asyncio
async def test_louisiana_and_regence_prior_auth_by_drug_list(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3590")}
    assert rows["bcbs-louisiana"]["requirement"] == "conditional" and "Express Scripts" in rows["bcbs-louisiana"]["summary"]
    assert (rows["regence"]["requirement"], rows["regence"]["effective_from"]) == ("conditional", "2024-01-01")


def test_regence_levelrx_drugs_are_paid_on_the_prime_contract_from_july_2024(built_db):
    rule = _rule(built_db, "regence--pricing-levelrx-prime")
    assert (rule["pricing_basis"], rule["effective_from"], rule["requirement"]) == ("fee_schedule", "2024-07-01", "conditional")


@pytest.mark.asyncio
async def test_tennessee_alabama_and_fep_gate_provider_administered_drugs_by_list(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3490")}
    assert rows["bcbs-tennessee"]["requirement"] == "conditional" and "2023-01-01" in rows["bcbs-tennessee"]["summary"]
    assert (rows["bcbs-alabama"]["requirement"], rows["bcbs-alabama"]["effective_from"]) == ("conditional", "2016-04-01")
    assert rows["bcbs-fep"]["requirement"] == "conditional" and "2024-02-01" in rows["bcbs-fep"]["summary"]


def test_alabama_portal_copy_is_secondary_but_the_rule_has_an_official_source(built_db):
    cits = {r["source_id"]: r["kind"] for r in _rows(
        built_db, "select source_id, kind from rule_citations where rule_id = 'bcbs-alabama--prior-auth-provider-administered-drugs'")}
    assert cits == {"bcbs-alabama-provider-administered-drug-review": "official",
                    "bcbs-alabama-draft-provider-administered-policies": "secondary"}
    assert _rule(built_db, "bcbs-tennessee--prior-auth-provider-administered-specialty")["has_official_source"] == 1


@pytest.mark.asyncio
async def test_more_prior_auth_by_list_texas_independence_blue_kc(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J9999")}
    for payer in ("bcbs-texas", "independence-blue-cross", "blue-kc"):
        assert rows[payer]["requirement"] == "conditional", payer
    assert "2022-08-01" in rows["bcbs-texas"]["summary"]


def test_bcbs_texas_ndc_rule_cites_the_2011_billing_page(built_db):
    assert "https://www.bcbstx.com/provider/news/ndc_billing.html" in _urls(built_db, "bcbs-texas--ndc")


def test_bcbsm_medicare_advantage_drug_rules_on_j3590_from_2020():
    kb, _ = shipped_policies()
    [rules_file] = [f for f in kb.drug_rules if f.model.payer_id == "bcbs-michigan-medicare-advantage"]
    rules = {r.drug: r for r in rules_file.model.drug_rules}
    assert {d: (r.codes, r.effective_from) for d, r in rules.items()} == {
        "abicipar-pegol": (["J3590"], "2020-07-09"),
        "roctavian": (["J3590"], "2020-08-21"),
        "uplizna": (["J3590"], "2020-08-21"),
        "beovu": (["J3490", "C9399"], "2020-02-03"),
        "zolgensma": (["J3590"], "2020-02-03"),
        "skyrizi": (["J3590"], "2020-02-03"),
        "spravato": (["J3490"], "2020-02-03"),
        "adakveo": (["J3590"], "2020-03-16"),
        "scenesse": (["J3490"], "2020-03-16"),
        "reblozyl": (["J3490"], "2020-03-16"),
        "tecartus": (["J9999"], "2021-01-01"),
        "viltepso": (["J3490", "J3590"], "2021-01-01"),
        "susvimo": (["J3590"], "2021-12-27"),
        "tegsedi": (["J3490"], "2021-12-01"),
        "ocrevus": (["J3590"], "2018-02-12"),
    }
    assert rules["tegsedi"].requirement == "not_required"  # taken off the list from that date
    src = kb.sources[rules["uplizna"].sources[0].ref][0]
    assert src.url.endswith("/the_record/2020/aug/Record_0820l.shtml") and src.undated


def test_bcbsm_medicare_advantage_is_its_own_payer(built_db):
    [payer] = _rows(built_db, "select payer_type from payers where id = 'bcbs-michigan-medicare-advantage'")
    assert payer["payer_type"] == "medicare_advantage"
    rule = _rule(built_db, "bcbs-michigan-medicare-advantage--prior-auth-part-b-specialty-drugs")
    assert rule["requirement"] == "conditional" and "NovoLogix" in rule["summary"]


def test_blue_care_network_drug_rules_start_a_month_before_the_ppo():
    kb, _ = shipped_policies()
    [bcn] = [f for f in kb.drug_rules if f.model.payer_id == "blue-care-network-michigan"]
    rules = {r.drug: r for r in bcn.model.drug_rules}
    assert (rules["onpattro"].codes, rules["onpattro"].effective_from) == (["J3490"], "2018-11-01")
    assert (rules["poteligeo"].codes, rules["poteligeo"].effective_from) == (["J9999"], "2018-11-01")


@pytest.mark.asyncio
async def test_carefirst_premera_and_south_carolina_gate_medical_benefit_drugs(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3590")}
    assert rows["carefirst"]["requirement"] == "conditional" and "2018-05-02" in rows["carefirst"]["summary"]
    assert (rows["premera"]["requirement"], rows["premera"]["effective_from"]) == ("conditional", "2022-01-01")
    assert (rows["bcbs-south-carolina"]["requirement"], rows["bcbs-south-carolina"]["effective_from"]) == ("conditional", "2016-06-01")


def test_horizon_nj_health_ndc_edits_carry_their_denial_codes(built_db):
    rule = _rule(built_db, "horizon-nj-health--ndc")
    assert set(json.loads(rule["denial_codes"])) == {"CO-16", "M119"}
    assert "N362" in rule["note"]


def test_bcbs_illinois_asks_for_the_outer_package_ndc(built_db):
    rule = _rule(built_db, "bcbs-illinois--ndc")
    assert "outer package" in rule["note"]
    assert "https://www.bcbsilcommunications.com/newsletters/br/2020/july/avoid_national_drug.html" in _urls(built_db, rule["id"])


@pytest.mark.asyncio
async def test_massachusetts_and_excellus_gate_medical_drugs_by_policy_list(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="C9399")}
    assert (rows["bcbs-massachusetts"]["requirement"], rows["bcbs-massachusetts"]["effective_from"]) == ("conditional", "2015-07-01")
    assert rows["excellus"]["requirement"] == "conditional" and "Clinical Review Prior Authorization" in rows["excellus"]["summary"]


def test_capital_blue_cross_moves_specialty_injectable_review_to_prime_in_2026(built_db):
    rule = _rule(built_db, "capital-blue-cross--prior-auth-specialty-injectables")
    assert (rule["requirement"], rule["effective_from"]) == ("conditional", "2026-01-01")
    assert "GatewayPa.com" in rule["summary"]
    [cit] = _rows(built_db, "select doc_date, kind from rule_citations where rule_id = ?", rule["id"])
    assert (cit["doc_date"], cit["kind"]) == ("2026-01-01", "official")


def test_arkansas_rule_has_an_official_source_beside_the_relayed_notice(built_db):
    rule = _rule(built_db, "arkansas-blue-cross--prior-auth-medical-pharmacy")
    kinds = sorted(r["kind"] for r in _rows(built_db, "select kind from rule_citations where rule_id = ?", rule["id"]))
    assert kinds == ["official", "secondary"] and rule["has_official_source"] == 1
    assert "2018-04-01" in rule["summary"]


def test_blue_shield_ca_commercial_is_apart_from_promise(built_db):
    payers = {r["id"]: r["payer_type"] for r in _rows(built_db, "select id, payer_type from payers where id like 'blue-shield-ca%'")}
    assert payers == {"blue-shield-ca": "bcbs", "blue-shield-ca-promise": "medicaid_mco"}
    rule = _rule(built_db, "blue-shield-ca--coding-richman-injectables")
    assert rule["requirement"] == "conditional" and "$250" in rule["summary"]


@pytest.mark.asyncio
async def test_blue_kc_new_to_market_drugs_and_kansas_medical_pharmacy_program(ds):
    rows = {r["payer_id"]: r for r in await _canned(ds, "prior_auth_for_code", code="J3490")}
    assert "new-to-market" in rows["blue-kc"]["summary"]
    assert rows["bcbs-kansas"]["requirement"] == "conditional" and "GatewayPA" in rows["bcbs-kansas"]["summary"]


def test_bcbs_michigan_ndc_quantity_units_by_package_form(built_db):
    rule = _rule(built_db, "bcbs-michigan--units-ndc-quantity")
    assert (rule["unit_rule"], rule["effective_from"]) == ("ndc_units", "2015-02-01")
    assert set(json.loads(rule["ndc_unit_qualifiers"])) == {"UN", "ML", "GR"}
