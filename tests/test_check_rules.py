"""The claim check, branch by branch, on a small fictional knowledge base (tests/fixtures/claims/kb).

The payers there are made up so each rule can be shaped to one case; the real payers are checked
in test_check_claims.py.
"""
from __future__ import annotations

import csv
import shutil

import pytest
import sqlite_utils

from payerkb.advisor import which_code
from payerkb.check import check_claim
from payerkb.claim import ClaimInputError

from paths import FIXTURES, reference_only_tree

KB = FIXTURES / "claims" / "kb"


@pytest.fixture(scope="module")
def kb_db(tmp_path_factory):
    """The fictional payers with the real reference files, built without the CMS tables."""
    from db.build import build

    root = tmp_path_factory.mktemp("check-kb")
    policies = reference_only_tree(root)
    shutil.rmtree(policies / "payers")
    shutil.copytree(KB / "payers", policies / "payers")
    out = root / "payerkb.db"
    build(policies, out, extra_steps=[])
    return out


@pytest.fixture(scope="module")
def xwalk_db(kb_db, tmp_path_factory):
    """The same database plus a two-row CMS NDC-HCPCS crosswalk."""
    out = tmp_path_factory.mktemp("check-kb-xwalk") / "payerkb.db"
    shutil.copy(kb_db, out)
    _add_crosswalk(out)
    return out


def _add_crosswalk(path):
    db = sqlite_utils.Database(path)
    with open(FIXTURES / "claims" / "crosswalk.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    db["ndc_hcpcs_crosswalk"].insert_all(rows, columns={"ndc": str, "ndc_542": str})
    db["cms_files"].insert({"id": "crosswalk-2026Q1", "kind": "crosswalk", "quarter": "2026Q1",
                            "source_url": "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"})
    db.close()


def line(**fields):
    base = {"payer_id": "test-plan-a", "date_of_service": "2026-01-15", "setting": "professional",
            "hcpcs": "J3590", "units": 1}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def findings(result, severity=None, topic=None):
    return [f for f in result["findings"]
            if (severity is None or f["severity"] == severity) and (topic is None or f["topic"] == topic)]


def only(result, severity, topic):
    found = findings(result, severity, topic)
    assert len(found) == 1, (severity, topic, [f["message"] for f in result["findings"]])
    return found[0]


# --- invoice ------------------------------------------------------------------------------------

def test_invoice_above_threshold_without_invoice_is_an_error_citing_the_rule(kb_db):
    result = check_claim(line(billed_amount=900, prior_auth_number="PA1"), kb_db)
    f = only(result, "error", "invoice")
    assert f["rule_id"] == "test-plan-a--invoice-threshold"
    assert "$900.00" in f["message"] and "$500.00" in f["message"]
    assert f["source_url"] == "https://example.org/test-plan-a/noc-drugs" and f["as_of"] == "2025-06-01"
    assert not result["ok"]
    attached = check_claim(line(billed_amount=900, invoice_attached=True, invoice_date="2025-12-01"), kb_db)
    assert not findings(attached, "error", "invoice")


def test_invoice_below_at_and_without_a_billed_amount(kb_db):
    assert not findings(check_claim(line(billed_amount=120), kb_db), "error", "invoice")
    at = only(check_claim(line(billed_amount=500), kb_db), "warning", "invoice")
    assert "exactly" in at["message"]
    unknown = only(check_claim(line(), kb_db), "warning", "invoice")
    assert "no billed amount" in unknown["message"]


def test_invoice_age_is_checked_against_the_payers_limit(kb_db):
    old = check_claim(line(billed_amount=900, invoice_attached=True, invoice_date="2025-09-01"), kb_db)
    assert "136 days" in only(old, "error", "invoice")["message"]
    undated = check_claim(line(billed_amount=900, invoice_attached=True), kb_db)
    assert "90 days" in only(undated, "info", "invoice")["message"]


# --- prior authorization, and rules that are not certain ----------------------------------------

def test_prior_auth_required_and_missing(kb_db):
    f = only(check_claim(line(), kb_db), "error", "prior_auth")
    assert f["rule_id"] == "test-plan-a--prior-auth"
    assert not findings(check_claim(line(prior_auth_number="PA-123"), kb_db), topic="prior_auth")
    # the rule covers J3590 only
    assert not findings(check_claim(line(hcpcs="J3490"), kb_db), "error", "prior_auth")


def test_unconfirmed_rule_warns_and_says_so(kb_db):
    result = check_claim(line(payer_id="test-medicaid-b"), kb_db)
    f = only(result, "warning", "prior_auth")
    assert "unconfirmed" in f["message"] and f["rule_status"] == "unconfirmed"
    assert f["source_url"] is None
    assert not findings(result, "error", "prior_auth")


def test_conflicting_rules_give_warnings_naming_the_other_side(kb_db):
    result = check_claim(line(payer_id="test-medicaid-b", billed_amount=300), kb_db)
    warned = findings(result, "warning", "invoice")
    assert {f["rule_id"] for f in warned} == {"test-medicaid-b--invoice-manual", "test-medicaid-b--invoice-bulletin"}
    assert all("sources disagree" in f["message"] for f in warned)
    assert "see also test-medicaid-b--invoice-bulletin" in next(
        f["message"] for f in warned if f["rule_id"] == "test-medicaid-b--invoice-manual")
    assert not findings(result, "error", "invoice")
    # above one threshold only: just that side warns
    middle = check_claim(line(payer_id="test-medicaid-b", billed_amount=150), kb_db)
    assert [f["rule_id"] for f in findings(middle, "warning", "invoice")] == ["test-medicaid-b--invoice-manual"]


def test_gaps_say_there_is_no_public_source(kb_db):
    result = check_claim(line(payer_id="test-medicaid-b"), kb_db)
    gap = only(result, "info", "narrative")
    assert gap["message"].startswith("No public source for Test Medicaid B's narrative rules")
    assert gap["rule_id"] == "test-medicaid-b--gap-narrative" and gap["likely_denial"] == []


def test_a_rule_not_yet_in_effect_is_not_applied(kb_db):
    early = check_claim(line(payer_id="test-mac-c", date_of_service="2023-03-01"), kb_db)
    assert not findings(early, "error", "narrative")
    assert "on 2023-03-01" in only(early, "info", "narrative")["message"]
    later = check_claim(line(payer_id="test-mac-c", date_of_service="2024-03-01"), kb_db)
    assert only(later, "error", "narrative")["rule_id"] == "test-mac-c--narrative-from-2024"


# --- NDC ----------------------------------------------------------------------------------------

def test_ndc_unit_qualifier_the_payer_does_not_take(kb_db):
    result = check_claim(line(ndc="50242-0060-01", ndc_qualifier="N4", ndc_unit="ME", ndc_quantity=4), kb_db)
    f = only(result, "error", "ndc")
    assert "does not take the NDC unit qualifier ME" in f["message"] and "UN, ML, GR, F2" in f["message"]
    assert f["rule_id"] == "test-plan-a--ndc"
    assert "M119" in f["likely_denial"]


@pytest.mark.parametrize("fields, words", [
    ({"ndc_unit": "MG"}, "'MG' is not an NDC unit qualifier"),
    ({"ndc_qualifier": "N5", "ndc_unit": "ML"}, "qualifier 'N5' is wrong"),
    ({"ndc_unit": None}, "No NDC unit qualifier"),
    ({"ndc_quantity": None, "ndc_unit": "ML"}, "No NDC quantity"),
])
def test_ndc_claim_fields(kb_db, fields, words):
    claim = line(**{"ndc": "50242006001", "ndc_qualifier": "N4", "ndc_quantity": 4, **fields})
    result = check_claim(claim, kb_db)
    assert any(words in f["message"] for f in findings(result, "error", "ndc")), result["findings"]


def test_missing_ndc_where_required(kb_db):
    f = only(check_claim(line(), kb_db), "error", "ndc")
    assert f["message"].startswith("No NDC on the line")


def test_ten_digit_ndc_is_normalised_and_flagged(kb_db):
    result = check_claim(line(ndc="0002-1433-80", ndc_qualifier="N4", ndc_unit="ML", ndc_quantity=1), kb_db)
    assert result["normalized"]["ndc_11"] == "00002143380"
    f = only(result, "error", "ndc")
    assert "10-digit" in f["message"] and f["fix"] == "Send 00002143380."


def test_unreadable_ndc_is_an_error_finding_not_a_crash(kb_db):
    result = check_claim(line(ndc="0002-1433"), kb_db)
    f = only(result, "error", "ndc")
    assert "2 parts" in f["message"]
    assert result["normalized"]["ndc_11"] is None


# --- narrative ----------------------------------------------------------------------------------

def test_narrative_too_long_and_missing_route(kb_db):
    text = "Brandnamumab " * 6 + "300 mg NDC 50242006001"
    result = check_claim(line(narrative=text, ndc="50242006001"), kb_db)
    messages = [f["message"] for f in findings(result, "error", "narrative")]
    assert any(f"has {len(text)} characters" in m and "holds 80" in m for m in messages)
    assert any("does not give the route" in m for m in messages)


def test_narrative_with_mg_per_ml_is_rejected_and_a_fix_proposed(kb_db):
    result = check_claim(line(narrative="Brandnamumab 25 mg/mL IV", drug_name="Brandnamumab", dose="300 mg",
                              route="IV", ndc="50242-0060-01"), kb_db)
    f = next(f for f in findings(result, "error", "narrative") if "mg/mL" in f["message"])
    assert f["rule_id"] == "test-plan-a--narrative" and f["likely_denial"] == ["N350"]
    proposed = result["normalized"]["narrative"]
    assert proposed == "Brandnamumab 300 mg IV NDC 50242006001"
    assert len(proposed) <= 80


def test_missing_narrative_gets_a_proposal_that_fits(kb_db):
    result = check_claim(line(drug_name="A very long biological product name that goes on and on",
                              dose="1200 mg", route="intravenous", ndc="50242006001"), kb_db)
    f = only(result, "error", "narrative")
    assert f["message"].startswith("No narrative")
    proposed = result["normalized"]["narrative"]
    assert len(proposed) <= 80 and "1200 mg" in proposed and "50242006001" in proposed
    assert "837P loop 2400 SV101-7" in f["fix"]


def test_narrative_in_the_wrong_field(kb_db):
    result = check_claim(line(narrative="Brandnamumab 300 mg IV NDC 50242006001", ndc="50242006001",
                              narrative_field="837p-2400-nte"), kb_db)
    f = only(result, "error", "narrative")
    assert "reads it from 837P loop 2400 SV101-7" in f["message"]


def test_narrative_ndc_that_contradicts_the_line(kb_db):
    result = check_claim(line(narrative="Brandnamumab 300 mg IV NDC 55513071001", ndc="50242006001"), kb_db)
    assert "not the NDC of the line" in only(result, "error", "narrative")["message"]


def test_a_good_narrative_is_kept(kb_db):
    text = "Brandnamumab 300 mg IV NDC 50242006001"
    result = check_claim(line(narrative=text, ndc="50242006001"), kb_db)
    assert not findings(result, "error", "narrative")
    assert result["normalized"]["narrative"] == text


# --- units and modifiers ------------------------------------------------------------------------

def test_one_unit_rule(kb_db):
    result = check_claim(line(units=3, dose="300 mg"), kb_db)
    f = only(result, "error", "units")
    assert f["message"].startswith("3 units billed") and "(300 mg)" in f["fix"]
    assert result["normalized"]["units"] == 1
    assert not findings(check_claim(line(units=1), kb_db), "error", "units")


def test_required_modifier_on_some_codes(kb_db):
    f = only(check_claim(line(hcpcs="J3490"), kb_db), "error", "modifiers")
    assert "requires UD" in f["message"]
    assert not findings(check_claim(line(hcpcs="J3490", modifiers="UD"), kb_db), "error", "modifiers")
    assert not findings(check_claim(line(hcpcs="J3590"), kb_db), "error", "modifiers")


MAC = {"payer_id": "test-mac-c", "narrative": "Brandnamumab 300 mg", "single_dose_container": True}


@pytest.mark.parametrize("fields, severity, words", [
    ({}, "error", "needs JZ (nothing discarded) or JW"),
    ({"modifiers": ["JZ"], "discarded_amount": 20}, "error", "JZ says nothing was discarded"),
    ({"modifiers": ["JW", "JZ"]}, "error", "contradict"),
    ({"modifiers": ["JW"], "discarded_amount": 0}, "error", "discarded amount is 0"),
    ({"discarded_amount": 20}, "warning", "20 was discarded"),
    ({"modifiers": ["JZ"], "single_dose_container": False}, "warning", "not single-dose"),
])
def test_jw_jz(kb_db, fields, severity, words):
    result = check_claim(line(**{**MAC, **fields}), kb_db)
    f = only(result, severity, "modifiers")
    assert words in f["message"]
    assert f["rule_id"] == "test-mac-c--modifiers-jw-jz"


def test_jz_present_is_fine_and_not_required_before_july_2023(kb_db):
    assert not findings(check_claim(line(**MAC, modifiers=["JZ"], discarded_amount=0), kb_db), "error", "modifiers")
    early = check_claim(line(**MAC, date_of_service="2023-03-01"), kb_db)
    assert not findings(early, "error", "modifiers")


def test_exempt_codes_need_no_jw_jz(kb_db):
    result = check_claim(line(payer_id="test-mac-c", hcpcs="A9699", single_dose_container=True, modifiers="JZ"), kb_db)
    assert not findings(result, "error", "modifiers")
    assert "does not require JW/JZ" in only(result, "info", "modifiers")["message"]


# --- code choice and the crosswalk --------------------------------------------------------------

def test_missing_crosswalk_is_said_not_crashed_on(kb_db):
    result = check_claim(line(ndc="50242006001"), kb_db)
    assert any("crosswalk is not loaded" in f["message"] for f in findings(result, "info", "coding"))


def test_j3590_line_whose_ndc_has_its_own_code(xwalk_db):
    result = check_claim(line(payer_id="test-mac-c", ndc="50242-0060-01", dose="400 mg", units=1), xwalk_db)
    f = only(result, "error", "coding")
    assert "under J9035" in f["message"] and "Avastin" in f["message"]
    assert f["fix"].startswith("Bill J9035") and "40 units" in f["fix"]
    assert f["source_url"] == "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"
    assert f["rule_id"] == "test-mac-c--coding-noc-only" and f["as_of"] == "2026-01-01"
    assert result["normalized"]["suggested_code"] == "J9035" and result["normalized"]["units"] == 40
    right = check_claim(line(payer_id="test-mac-c", hcpcs="J9035", ndc="50242006001", units=40), xwalk_db)
    assert not findings(right, "error", "coding")
    assert "10 MG per billing unit" in only(right, "info", "units")["message"]


def test_ten_digits_without_dashes_resolved_through_the_crosswalk(xwalk_db):
    result = check_claim(line(ndc="5024200601"), xwalk_db)
    assert result["normalized"]["ndc_11"] == "50242006001"
    assert any("read as 50242-0060-01" in f["message"] for f in findings(result, "info", "ndc"))
    unknown = check_claim(line(ndc="1234567890"), xwalk_db)
    assert "10 digits and no dashes" in only(unknown, "error", "ndc")["message"]


def test_a_rebuilt_database_is_read_again(kb_db, tmp_path):
    path = tmp_path / "payerkb.db"
    shutil.copy(kb_db, path)
    before = check_claim(line(ndc="50242006001"), path)
    assert any("not loaded" in f["message"] for f in findings(before, "info", "coding"))
    _add_crosswalk(path)
    after = check_claim(line(ndc="50242006001"), path)
    assert any("under J9035" in f["message"] for f in findings(after, "error", "coding"))


def test_medicare_outpatient_line_is_steered_to_c9399(kb_db):
    result = check_claim(line(payer_id="test-mac-c", setting="outpatient_facility"), kb_db)
    f = only(result, "warning", "coding")
    assert "C9399" in f["message"] and f["rule_id"] == "test-mac-c--coding-c9399"
    assert result["normalized"]["suggested_code"] == "C9399"
    assert any("status indicator of J3590: N" in x["message"] for x in findings(result, "info", "coding"))
    # a commercial plan is not steered
    assert not findings(check_claim(line(setting="outpatient_facility"), kb_db), "warning", "coding")


def test_c9399_on_a_professional_claim_and_drug_kind_mismatch(kb_db):
    wrong_setting = only(check_claim(line(hcpcs="C9399"), kb_db), "error", "coding")
    assert "for outpatient facility claims" in wrong_setting["message"]
    kind = only(check_claim(line(payer_id="test-mac-c", drug_kind="antineoplastic"), kb_db), "error", "coding")
    assert "J9999" in kind["message"] and kind["fix"].startswith("Bill J9999")


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("claim, field, words", [
    (line(payer_id="test-plan-z"), "payer_id", "did you mean test-plan-a"),
    (line(hcpcs="J1234"), "hcpcs", "not a code payerkb knows"),
    (line(hcpcs="3590"), "hcpcs", "not a HCPCS Level II code"),
    (line(units="three"), "units", "must be a number"),
    (line(units=-1), "units", "greater than 0"),
    (line(date_of_service="01/15/2026"), "date_of_service", "YYYY-MM-DD"),
    (line(date_of_service="2026-02-30"), "date_of_service", "not a real calendar date"),
    (line(setting="office"), "setting", "is not one of"),
    (line(modifiers=["JZZ"]), "modifiers", "is not a modifier"),
    (line(narrative_field="item-19"), "narrative_field", "unknown claim field"),
    (line(payerid="x"), "payerid", "did you mean 'payer_id'"),
    ({"hcpcs": "J3590"}, "payer_id", "required field is missing"),
    (["not", "an", "object"], None, "JSON object"),
])
def test_bad_input_names_the_field(kb_db, claim, field, words):
    with pytest.raises(ClaimInputError) as err:
        check_claim(claim, kb_db)
    assert err.value.field == field
    assert words in err.value.message
    if field:
        assert err.value.message.startswith(field)


# --- the code advisor ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, code", [
    ({"drug_kind": "biologic"}, "J3590"),
    ({"drug_kind": "drug"}, "J3490"),
    ({"drug_kind": "antineoplastic"}, "J9999"),
    ({"drug_kind": "oral_chemo"}, "J8999"),
    ({"drug_kind": "oral_non_chemo"}, "J8499"),
    ({"drug_kind": "compounded"}, "J7999"),
    ({"drug_kind": "biologic", "setting": "outpatient_facility", "payer_id": "test-mac-c"}, "C9399"),
    ({"drug_kind": "biologic", "setting": "outpatient_facility", "payer_id": "test-plan-a"}, "J3590"),
])
def test_which_code_by_kind_and_setting(kb_db, kwargs, code):
    answer = which_code(db=kb_db, date="2026-01-15", **kwargs)
    assert answer["code"] == code
    assert answer["reasons"] and answer["sources"] and answer["sources"][0]["url"].startswith("https://www.cms.gov/")


def test_which_code_outpatient_medicare_explains_and_offers_the_alternative(kb_db):
    answer = which_code(db=kb_db, drug_kind="biologic", setting="outpatient_facility", payer_id="test-mac-c",
                        date="2026-01-15")
    assert answer["opps_status_indicator"] == "A"
    assert [a["code"] for a in answer["alternatives"]] == ["J3590"]
    assert [r["rule_id"] for r in answer["payer_rules"]] == ["test-mac-c--coding-c9399"]
    commercial = which_code(db=kb_db, drug_kind="biologic", setting="outpatient_facility", payer_id="test-plan-a",
                            date="2026-01-15")
    assert [a["code"] for a in commercial["alternatives"]] == ["C9399"]


def test_which_code_with_an_ndc_that_has_its_own_code(xwalk_db):
    answer = which_code(db=xwalk_db, ndc="55513-0710-01", drug_kind="biologic", date="2026-01-15")
    assert answer["code"] == "J0897" and answer["basis"] == "crosswalk"
    assert answer["crosswalk"]["drug_name"] == "Prolia"
    not_listed = which_code(db=xwalk_db, ndc="00002-1433-80", drug_kind="biologic", date="2026-01-15")
    assert not_listed["code"] == "J3590"
    assert any("not in the CMS ASP NDC-HCPCS crosswalk" in n for n in not_listed["notes"])


@pytest.mark.parametrize("kwargs, field", [
    ({"drug_kind": "biological"}, "drug_kind"),
    ({"drug_kind": "biologic", "setting": "office"}, "setting"),
    ({"drug_kind": "biologic", "payer_id": "nobody"}, "payer"),
    ({"drug_kind": "biologic", "date": "15 Jan"}, "date"),
    ({"ndc": "12-34"}, "ndc"),
    ({}, "drug_kind"),
])
def test_which_code_bad_arguments(kb_db, kwargs, field):
    with pytest.raises(ClaimInputError) as err:
        which_code(db=kb_db, **kwargs)
    assert err.value.field == field


def test_a_database_renamed_into_place_is_opened_again(kb_db, xwalk_db, tmp_path):
    path = tmp_path / "payerkb.db"
    shutil.copy(kb_db, path)
    assert not findings(check_claim(line(ndc="50242006001"), path), "error", "coding")
    staged = tmp_path / "payerkb.db.new"
    shutil.copy(xwalk_db, staged)
    staged.replace(path)  # what `payerkb build` does
    assert findings(check_claim(line(ndc="50242006001"), path), "error", "coding")
