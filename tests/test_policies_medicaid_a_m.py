"""State Medicaid fee-for-service programs AL-MT, read the way a user meets them: payer rules through
the built database, drug rules through the validated policies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from paths import shipped_policies
from kb_queries import rows as _rows, rule as _rule, urls as _urls


def _payer(db: Path, payer_id: str) -> dict:
    rows = _rows(db, "select * from payers where id = ?", payer_id)
    assert rows, f"no payer {payer_id}"
    return rows[0]


@pytest.fixture(scope="module")
def kb():
    kb, problems = shipped_policies()
    return kb


def _drug_rules(kb, payer_id: str) -> dict:
    for loc in kb.drug_rules:
        if loc.model.payer_id == payer_id:
            return {r.drug: r for r in loc.model.drug_rules}
    raise AssertionError(f"no drug rules for {payer_id}")


# --- Arkansas: the JW line (issue 11) ------------------------------------------------------------

def test_arkansas_jw_modifier_on_a_separate_line_from_2023(built_db):
    jw = _rule(built_db, "medicaid-ar--modifiers-jw-asc")
    assert jw["topic"] == "modifiers"
    assert json.loads(jw["modifiers"]) == ["JW"]
    assert jw["effective_from"] == "2023-01-01"
    assert jw["setting"] == "asc"
    assert any("govt.westlaw.com/arreg" in u for u in _urls(built_db, "medicaid-ar--modifiers-jw-asc"))
    units = _rule(built_db, "medicaid-ar--units-round-up")
    assert units["unit_rule"] == "per_descriptor"


# --- Alaska --------------------------------------------------------------------------------------

def test_alaska_n4_eleven_digit_ndc(built_db):
    p = _payer(built_db, "medicaid-ak")
    assert (p["payer_type"], json.loads(p["states"])) == ("medicaid_ffs", ["AK"])
    ndc = _rule(built_db, "medicaid-ak--ndc")
    assert ndc["requirement"] == "required"
    assert ndc["ndc_format"] == "11_digit_no_separators"
    assert "J3490" in ndc["summary"]
    assert _urls(built_db, "medicaid-ak--ndc") == {"https://studylib.net/doc/8073299/j-codes--helpful-tips-for-billing-physician"}


# --- Colorado ------------------------------------------------------------------------------------

def test_colorado_pad_rules(built_db):
    p = _payer(built_db, "medicaid-co")
    assert json.loads(p["states"]) == ["CO"]
    assert "Health First Colorado" in json.loads(p["aliases"])
    pricing = _rule(built_db, "medicaid-co--pricing-pad-fee-schedule")
    assert (pricing["pricing_basis"], pricing["setting"]) == ("fee_schedule", "professional")
    pa = _rule(built_db, "medicaid-co--prior-auth-hospital-specialty-drugs")
    assert (pa["requirement"], pa["setting"]) == ("conditional", "outpatient_facility")
    assert _urls(built_db, "medicaid-co--ndc") >= {"https://hcpf.colorado.gov/physician-administered-drug-pad-faqs"}


# --- Florida -------------------------------------------------------------------------------------

def test_florida_office_drugs_at_asp_plus_six(built_db):
    p = _payer(built_db, "medicaid-fl")
    assert "AHCA" in p["name"]
    asp = _rule(built_db, "medicaid-fl--pricing-office-asp")
    assert (asp["pricing_basis"], asp["percent"], asp["setting"]) == ("asp", 106, "professional")
    assert "https://regulations.justia.com/states/florida/59/59g/chapter-59g-4/section-59g-4-251" in _urls(
        built_db, "medicaid-fl--pricing-office-asp")
    assert _rule(built_db, "medicaid-fl--pricing-340b-outpatient")["requirement"] == "conditional"


# --- Maine ---------------------------------------------------------------------------------------

def test_mainecare_noc_under_rev_0636_with_ndc(built_db):
    coding = _rule(built_db, "medicaid-me--coding-noc-rev-0636")
    assert coding["setting"] == "outpatient_facility"
    assert "0636" in coding["summary"]
    assert coding["as_of"] == "2023-05-08"
    pa = _rule(built_db, "medicaid-me--prior-auth-non-rebate")
    assert pa["requirement"] == "conditional"
    assert _urls(built_db, "medicaid-me--prior-auth-non-rebate") == {
        "http://www.maine.gov/dhhs/oms/headline_news_details.shtml?id=440694"}


# --- Alabama and Illinois (existing programs, more rules) ----------------------------------------

def test_alabama_ndc_exceptions_and_compounds(built_db):
    ndc = _rule(built_db, "medicaid-al--ndc")
    assert set(json.loads(ndc["exceptions"])) == {"radiopharmaceutical", "fqhc_rhc"}
    assert ndc["effective_from"] == "2010-10-01"
    assert _rule(built_db, "medicaid-al--coding-compounded")["topic"] == "coding"


def test_illinois_invoices_kept_for_audit(built_db):
    doc = _rule(built_db, "medicaid-il--documentation-invoices-on-audit")
    assert doc["topic"] == "documentation"
    assert _urls(built_db, "medicaid-il--documentation-invoices-on-audit") == {
        "https://hfs.illinois.gov/medicalproviders/pharmacy/labelers.html"}


# --- Mississippi, Arizona, California ------------------------------------------------------------

def test_mississippi_waste_paid_only_with_record_and_policy(built_db):
    doc = _rule(built_db, "medicaid-ms--documentation-discarded-drug")
    assert (doc["topic"], doc["requirement"]) == ("documentation", "conditional")
    assert _rule(built_db, "medicaid-ms--prior-auth-listed-pads")["requirement"] == "conditional"
    assert any("rule-23-203-21-covered-services" in u for u in _urls(built_db, "medicaid-ms--documentation-discarded-drug"))


def test_ahcccs_does_not_pay_discarded_drug(built_db):
    p = _payer(built_db, "medicaid-az")
    assert "AHCCCS" in json.loads(p["aliases"])
    units = _rule(built_db, "medicaid-az--units-no-discarded-drug")
    assert units["requirement"] == "required"
    assert units["as_of"] == "2018-01-18"


def test_medi_cal_pricing_from_the_dir_description(built_db):
    pricing = _rule(built_db, "medicaid-ca--pricing-medicare-rate")
    assert (pricing["pricing_basis"], pricing["percent"]) == ("asp", 106)
    assert _urls(built_db, "medicaid-ca--pricing-medicare-rate") == {"https://www.dir.ca.gov/t8/9789_13_2.html"}


# --- Iowa and Minnesota --------------------------------------------------------------------------

def test_iowa_ophthalmic_avastin_on_j7999(built_db, kb):
    coding = _rule(built_db, "medicaid-ia--coding-ophthalmic-avastin-j7999")
    assert "J7999" in json.loads(coding["codes"])
    assert "1.25 mg" in coding["summary"]
    pricing = _rule(built_db, "medicaid-ia--pricing-j7999-manual")
    assert pricing["pricing_basis"] == "manual_review"
    assert "$76" in pricing["summary"]
    assert kb.drugs["avastin"].model.ndcs == ["50242-0060-01", "50242-0061-01"]


def test_minnesota_ndc_from_2008(built_db):
    ndc = _rule(built_db, "medicaid-mn--ndc")
    assert ndc["effective_from"] == "2008-01-01"
    assert set(json.loads(ndc["ndc_unit_qualifiers"])) == {"UN", "ML"}
    assert _rule(built_db, "medicaid-mn--units-hcpcs-vs-ndc")["unit_rule"] == "per_descriptor"
    assert _rule(built_db, "medicaid-mn--coding-compound-lines")["as_of"] == "2018-02-13"


# --- Montana -------------------------------------------------------------------------------------

def test_montana_ndc_units_and_340b(built_db):
    ndc = _rule(built_db, "medicaid-mt--ndc")
    assert set(json.loads(ndc["ndc_unit_qualifiers"])) == {"F2", "GR", "ML", "UN"}
    assert ndc["ndc_format"] == "11_digit_no_separators"
    assert "http://medicaidprovider.mt.gov/claimsinstructions" in _urls(built_db, "medicaid-mt--ndc")
    assert _rule(built_db, "medicaid-mt--prior-auth-nonrebatable")["requirement"] == "conditional"
    assert "acquisition cost" in _rule(built_db, "medicaid-mt--pricing-340b-acquisition-cost")["summary"]


# --- DC and Hawaii -------------------------------------------------------------------------------

def test_dc_ndc_from_the_oig_audit(built_db):
    ndc = _rule(built_db, "medicaid-dc--ndc")
    assert "June 2008" in ndc["summary"]
    assert ndc["effective_from"] is None
    assert any("oig.hhs.gov" in u for u in _urls(built_db, "medicaid-dc--ndc"))


def test_hawaii_invoice_needed_without_wac(built_db):
    inv = _rule(built_db, "medicaid-hi--invoice-no-wac")
    assert (inv["topic"], inv["requirement"], inv["threshold_usd"]) == ("invoice", "conditional", None)
    assert "no dollar threshold" in inv["summary"]
    assert _rule(built_db, "medicaid-hi--pricing-lower-of-invoice")["pricing_basis"] == "invoice"


# --- Massachusetts and Delaware ------------------------------------------------------------------

def test_masshealth_individual_consideration_needs_the_invoice(built_db):
    inv = _rule(built_db, "medicaid-ma--invoice-individual-consideration")
    assert (inv["requirement"], inv["threshold_usd"], inv["as_of"]) == ("conditional", None, "2022-01-21")
    assert "no dollar threshold" in inv["summary"]
    assert _rule(built_db, "medicaid-ma--narrative-individual-consideration")["topic"] == "narrative"


def test_delaware_pays_pads_from_the_medicare_part_b_file(built_db):
    pricing = _rule(built_db, "medicaid-de--pricing-medicare-part-b-rate")
    assert (pricing["pricing_basis"], pricing["percent"]) == ("asp", None)
    assert "ASP + 8%" in pricing["summary"]
    assert pricing["as_of"] == "2023-11-01"  # the final order, not the 2025 proposal


# --- Missouri (existing program, more rules) -----------------------------------------------------

def test_missouri_office_drugs_go_to_the_pharmacy_program(built_db):
    sub = _rule(built_db, "medicaid-mo--submission-pharmacy-claim")
    assert (sub["topic"], sub["effective_from"]) == ("submission", "2009-10-01")
    assert "https://dss.mo.gov/mhd/cs/pharmacy/pages/mcpharmcob.htm" in _urls(built_db, "medicaid-mo--submission-pharmacy-claim")
    assert "5-4-2" in _rule(built_db, "medicaid-mo--ndc")["summary"]


def test_illinois_hand_priced_drugs_one_unit_and_invoice(built_db):
    units = _rule(built_db, "medicaid-il--units-hand-priced-drugs")
    assert (units["unit_rule"], units["as_of"]) == ("one_unit", "2017-02-03")
    inv = _rule(built_db, "medicaid-il--invoice-note-x")
    assert (inv["submission_channel"], inv["threshold_usd"]) == ("paper", None)
    assert set(json.loads(_rule(built_db, "medicaid-il--narrative-hand-priced-drugs")["narrative_elements"])) == {
        "drug_name", "strength", "dose"}


def test_colorado_pad_records_kept_six_years(built_db):
    doc = _rule(built_db, "medicaid-co--documentation-pad-records")
    assert doc["topic"] == "documentation"
    assert "six years" in doc["summary"]
    assert "https://www.colorado.gov/pacific/hcpf/pad-manual" in _urls(built_db, "medicaid-co--documentation-pad-records")
