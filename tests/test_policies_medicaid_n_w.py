"""State Medicaid fee-for-service programs NE-WY (and the NC drug bulletins), read the way a user
meets them: payer rules through the built database, drug rules through the validated policies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from paths import shipped_policies
from kb_queries import rows as _rows, rule as _rule, urls as _urls


@pytest.fixture(scope="module")
def kb():
    kb, problems = shipped_policies()
    return kb


def _drug_rules(kb, payer_id: str) -> dict:
    for loc in kb.drug_rules:
        if loc.model.payer_id == payer_id:
            return {r.drug: r for r in loc.model.drug_rules}
    raise AssertionError(f"no drug rules for {payer_id}")


# --- North Carolina: one bulletin per drug on J3590 / J3490 / J9999 -------------------------------

def test_nc_drug_bulletins_give_code_unit_rate_and_start(kb):
    rules = _drug_rules(kb, "medicaid-nc")
    assert len(rules) >= 32
    kim = rules["kimmtrak"]
    assert (kim.codes, kim.billing_unit, kim.rate_usd, kim.effective_from) == (["J9999"], "1 mcg", 202.61, "2022-02-25")
    assert rules["onpattro"].effective_from == "2018-09-05" and rules["onpattro"].rate_usd == 1026.0
    cab = rules["cabenuva"]
    assert (cab.codes, cab.billing_unit, cab.rate_usd, cab.effective_from) == (["J3490"], "1 mL", 1069.2, "2021-02-01")
    jem = rules["jemperli"]
    assert (jem.codes, jem.billing_unit, jem.rate_usd, jem.effective_from) == (["J9999"], "1 mg", 22.4, "2021-05-17")
    upl = rules["uplizna"]
    assert (upl.codes, upl.rate_usd, upl.criteria_id) == (["J3590"], 471.6, "1B")
    # a bulletin found only on the archive list: code and start, no unit invented
    dur = rules["durysta"]
    assert (dur.codes, dur.effective_from, dur.billing_unit, dur.rate_usd) == (["J3490"], "2020-06-26", None, None)
    assert {r.topic for r in rules.values()} == {"billing_unit"}
    assert all(r.sources for r in rules.values())
    codes = {c for r in rules.values() for c in r.codes}
    assert codes == {"J3490", "J3590", "J9999"}


def test_nc_bulletin_drugs_carry_their_ndcs_and_later_codes(kb):
    assert kb.drugs["cabenuva"].model.ndcs == ["49702-0253-15", "49702-0240-15"]
    assert kb.drugs["givlaari"].model.ndcs == ["71336-1001-01"]
    evk = kb.drugs["evkeeza"].model
    assert (evk.hcpcs_code, evk.hcpcs_code_from) == ("C9079", "2021-07-01")
    assert kb.drugs["beovu"].model.hcpcs_code == "J0179"
    assert kb.drugs["vyvgart"].model.ndcs == ["73475-3041-05"]


def test_nc_payer_rules_cover_j9999_bulletins_through_the_db(built_db):
    units = _rule(built_db, "medicaid-nc--units-per-drug-bulletin")
    assert units["unit_rule"] == "per_payer_billing_unit"
    assert set(json.loads(units["codes"])) == {"J3490", "J3590", "J9999"}
    ndc = _rule(built_db, "medicaid-nc--ndc-padp")
    assert ndc["requirement"] == "required"
    assert any("uplizna" in u for u in _urls(built_db, "medicaid-nc--ndc-padp"))


# --- new programs: each read back through the built database -------------------------------------

def test_new_medicaid_programs_are_ffs_payers_for_their_state(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select * from payers where id like 'medicaid-%'")}
    for state in ("OK", "NV", "NJ", "WI", "NE"):
        p = payers[f"medicaid-{state.lower()}"]
        assert p["payer_type"] == "medicaid_ffs"
        assert json.loads(p["states"]) == [state]
    assert "SoonerCare" in json.loads(payers["medicaid-ok"]["aliases"])
    assert "ForwardHealth" in json.loads(payers["medicaid-wi"]["aliases"])
    assert "NJ FamilyCare" in json.loads(payers["medicaid-nj"]["aliases"])


def test_oklahoma_wants_drug_name_strength_and_dose_and_flags_340b(built_db):
    nar = _rule(built_db, "medicaid-ok--narrative-drug-details")
    assert set(json.loads(nar["narrative_elements"])) == {"drug_name", "strength", "dose"}
    assert any("317-30-5-14" in u for u in _urls(built_db, "medicaid-ok--narrative-drug-details"))
    mod = _rule(built_db, "medicaid-ok--modifiers-340b")
    assert (mod["requirement"], mod["effective_from"]) == ("conditional", "2022-09-12")


def test_nevada_prices_on_the_ndc_at_awp_less_15_percent_from_2008(built_db):
    pr = _rule(built_db, "medicaid-nv--pricing-lowest-of")
    assert (pr["pricing_basis"], pr["percent"], pr["effective_from"]) == ("awp", 85, "2008-01-01")
    units = _rule(built_db, "medicaid-nv--units-ndc-quantity")
    assert units["unit_rule"] == "ndc_units"
    src = _rows(built_db, "select s.kind from rule_sources rs join sources s on s.id = rs.source_id "
                          "where rs.rule_id = 'medicaid-nv--ndc'")
    assert [s["kind"] for s in src] == ["secondary"]


def test_new_jersey_pricing_and_ndc_quantity_check(built_db):
    pr = _rule(built_db, "medicaid-nj--pricing-awp-or-acquisition")
    assert (pr["pricing_basis"], pr["setting"]) == ("awp", "professional")
    ndc = _rule(built_db, "medicaid-nj--ndc")
    assert set(json.loads(ndc["ndc_unit_qualifiers"])) == {"F2", "GR", "ML", "UN"}
    assert "twice" in _rule(built_db, "medicaid-nj--units-ndc-quantity-check")["summary"]


def test_wisconsin_and_nebraska_deny_drug_lines_without_an_ndc(built_db):
    wi = _rule(built_db, "medicaid-wi--ndc")
    assert wi["requirement"] == "required" and "denied" in wi["summary"]
    assert _rule(built_db, "medicaid-wi--submission-institutional")["setting"] == "outpatient_facility"
    ne = _rule(built_db, "medicaid-ne--ndc")
    assert {"https://dhhs.ne.gov/Pages/Medicaid-Provider-Pharmacy-Services.aspx"} <= _urls(built_db, "medicaid-ne--ndc")


def test_texas_hccad_prior_auth_and_skysona_on_j3590(built_db, kb):
    pa = _rule(built_db, "medicaid-tx--prior-auth-hccad")
    assert (pa["requirement"], pa["setting"], pa["effective_from"]) == ("conditional", "outpatient_facility", "2025-06-01")
    assert json.loads(pa["codes"]) == ["J3590"]
    sky = _drug_rules(kb, "medicaid-tx")["skysona"]
    assert (sky.topic, sky.codes, sky.effective_from) == ("prior_auth", ["J3590"], "2025-06-01")
    assert kb.drugs["cabenuva"].model.hcpcs_code == "J0741"


def test_south_carolina_and_oregon_additions(built_db):
    sc = _rule(built_db, "medicaid-sc--ndc-outpatient-rev-636")
    assert sc["setting"] == "outpatient_facility" and "636" in sc["summary"]
    assert _rule(built_db, "medicaid-sc--pricing-quarterly-rates")["pricing_basis"] == "fee_schedule"
    orpa = _rule(built_db, "medicaid-or--prior-auth-table")
    assert orpa["requirement"] == "conditional" and "J9999" in json.loads(orpa["codes"])
