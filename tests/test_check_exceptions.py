"""Rule exceptions (rules.exceptions) drive the claim check; a rule's summary text does not.

Two fictional Medicare contractors carry the same rules. `test-typed-x` lists its exceptions in the
typed `exceptions:` field under neutral summaries; `test-prose-y` only names them in its summaries.
A line that is one of the exceptions passes at X and is still held to the rule at Y.
"""
from __future__ import annotations

import shutil

import pytest

from payerkb.check import check_claim

from paths import POLICIES

PAYER = """\
id: {id}
name: Test MAC {id}
payer_type: medicare_mac
states: [KS]
sources:
  - id: {id}-article
    url: https://example.org/{id}/article
    title: Fictional billing article for tests
    publisher: Test MAC
    doc_date: 2024-05-01
    retrieved: 2026-11-27
    kind: official
rules:
  - id: narrative
    topic: narrative
    setting: professional
    codes: [J3490, J3590, J7999]
    requirement: required
    summary: {narrative}
    narrative_elements: [drug_name, dose]
    narrative_rejects: [mg/mL]
    {narrative_exceptions}
    status: sourced
    sources: [{{ref: {id}-article}}]
  - id: modifiers-jw-jz
    topic: modifiers
    codes: all
    requirement: conditional
    summary: {modifiers}
    modifiers: [JW, JZ]
    {modifier_exceptions}
    effective_from: 2023-07-01
    status: sourced
    sources: [{{ref: {id}-article}}]
  - id: invoice-j7999
    topic: invoice
    setting: professional
    codes: [J7999]
    requirement: required
    summary: {invoice}
    {invoice_exceptions}
    status: sourced
    sources: [{{ref: {id}-article}}]
"""
TYPED = dict(
    id="test-typed-x",
    narrative="Fictional rule for tests, drug name and dose, doses per mL refused.",
    narrative_exceptions="exceptions: [compounded]",
    modifiers="Fictional rule for tests, JW or JZ on single-dose container lines.",
    modifier_exceptions="exceptions: [packaged_opps, fqhc_rhc, overfill, radiopharmaceutical]",
    invoice="Fictional rule for tests, an invoice on every J7999 line.",
    invoice_exceptions="exceptions: [intravitreal_bevacizumab]",
)
PROSE = dict(
    id="test-prose-y",
    narrative="Fictional rule for tests, doses per mL refused except for compounded drugs.",
    narrative_exceptions="",
    modifiers="Fictional rule for tests, JW or JZ, except packaged OPPS drugs, FQHC/RHC claims, overfill and "
              "radiopharmaceuticals.",
    modifier_exceptions="",
    invoice="Fictional rule for tests, an invoice on every J7999 line except intravitreal Avastin.",
    invoice_exceptions="",
)
TYPED_ID, PROSE_ID = TYPED["id"], PROSE["id"]


@pytest.fixture(scope="module")
def exc_db(tmp_path_factory):
    from db.build import build

    root = tmp_path_factory.mktemp("check-exceptions")
    policies = root / "policies"
    (policies / "reference").mkdir(parents=True)
    (policies / "payers").mkdir()
    for ref in (POLICIES / "reference").glob("*.yml"):
        shutil.copy(ref, policies / "reference" / ref.name)
    for fields in (TYPED, PROSE):
        (policies / "payers" / f"{fields['id']}.yml").write_text(PAYER.format(**fields))
    out = root / "payerkb.db"
    build(policies, out, extra_steps=[])
    return out


def line(payer_id, **fields):
    base = {"payer_id": payer_id, "date_of_service": "2026-01-15", "setting": "professional", "hcpcs": "J3590",
            "units": 1}
    return {**base, **fields}


def topic_findings(result, topic, severity=None):
    return [f for f in result["findings"] if f["topic"] == topic and (severity is None or f["severity"] == severity)]


def test_the_exceptions_column_holds_the_typed_list(exc_db):
    import sqlite_utils

    db = sqlite_utils.Database(exc_db)
    row = db["rules"].get(f"{TYPED_ID}--modifiers-jw-jz")
    assert row["exceptions"] == '["packaged_opps", "fqhc_rhc", "overfill", "radiopharmaceutical"]'
    assert db["rules"].get(f"{PROSE_ID}--modifiers-jw-jz")["exceptions"] is None


MG_PER_ML = {"narrative": "Compounded mixture 25 mg/mL", "drug_name": "Mixture", "dose": "50 mg"}


def test_mg_per_ml_on_a_compounded_drug_passes_only_where_the_rule_lists_the_exception(exc_db):
    typed = check_claim(line(TYPED_ID, drug_kind="compounded", **MG_PER_ML), exc_db)
    assert not topic_findings(typed, "narrative", "error")
    note = [f for f in topic_findings(typed, "narrative", "info") if "mg/mL" in f["message"]]
    assert note and "except for compounded drugs" in note[0]["message"]
    assert note[0]["rule_id"] == f"{TYPED_ID}--narrative"
    assert typed["normalized"]["narrative"] == MG_PER_ML["narrative"]

    prose = check_claim(line(PROSE_ID, drug_kind="compounded", **MG_PER_ML), exc_db)
    [err] = [f for f in topic_findings(prose, "narrative", "error") if "mg/mL" in f["message"]]
    assert err["rule_id"] == f"{PROSE_ID}--narrative"


def test_mg_per_ml_when_the_line_does_not_say_the_drug_kind(exc_db):
    unknown = check_claim(line(TYPED_ID, **MG_PER_ML), exc_db)
    [err] = topic_findings(unknown, "narrative", "error")
    assert "leaves out compounded drugs; this line does not say" in err["message"]
    biologic = check_claim(line(TYPED_ID, drug_kind="biologic", **MG_PER_ML), exc_db)
    [err] = topic_findings(biologic, "narrative", "error")
    assert "leaves out" not in err["message"]
    # J7999 is the compounded-drug code: the code itself says the drug is compounded
    j7999 = check_claim(line(TYPED_ID, hcpcs="J7999", invoice_attached=True, **MG_PER_ML), exc_db)
    assert not topic_findings(j7999, "narrative", "error")


SDC = {"narrative": "Brandnamumab 300 mg", "single_dose_container": True}


def test_packaged_outpatient_line_needs_no_jz_only_where_the_rule_lists_the_exception(exc_db):
    typed = check_claim(line(TYPED_ID, setting="outpatient_facility", **SDC), exc_db)
    assert not topic_findings(typed, "modifiers", "error")
    [note] = topic_findings(typed, "modifiers", "info")
    assert "packaged in OPPS (status indicator N)" in note["message"]

    prose = check_claim(line(PROSE_ID, setting="outpatient_facility", **SDC), exc_db)
    [err] = topic_findings(prose, "modifiers", "error")
    assert "needs JZ" in err["message"]


def test_separately_paid_outpatient_line_still_needs_jz_and_is_told_about_fqhc(exc_db):
    # C9399 has OPPS status indicator A (paid separately), so the packaged exception does not apply
    result = check_claim(line(TYPED_ID, setting="outpatient_facility", hcpcs="C9399", **SDC), exc_db)
    [err] = topic_findings(result, "modifiers", "error")
    assert "needs JZ" in err["message"] and "FQHC and RHC claims" in err["message"]
    # on a professional claim of a known drug kind no exception is in question
    professional = check_claim(line(TYPED_ID, drug_kind="biologic", **SDC), exc_db)
    [err] = topic_findings(professional, "modifiers", "error")
    assert "leaves out" not in err["message"]
    # without drug_kind the line cannot show it is not a radiopharmaceutical, and the error says so
    unknown = check_claim(line(TYPED_ID, **SDC), exc_db)
    [err] = topic_findings(unknown, "modifiers", "error")
    assert "leaves out radiopharmaceuticals; this line does not say" in err["message"]


def test_radiopharmaceutical_by_drug_kind(exc_db):
    typed = check_claim(line(TYPED_ID, drug_kind="radiopharmaceutical_therapeutic", **SDC), exc_db)
    assert not topic_findings(typed, "modifiers", "error")
    assert "radiopharmaceuticals the JW/JZ rule leaves out" in topic_findings(typed, "modifiers", "info")[0]["message"]
    prose = check_claim(line(PROSE_ID, drug_kind="radiopharmaceutical_therapeutic", **SDC), exc_db)
    assert topic_findings(prose, "modifiers", "error")


def test_discarded_amount_warning_mentions_overfill_from_the_data(exc_db):
    typed = check_claim(line(TYPED_ID, discarded_amount=20, **SDC), exc_db)
    [warn] = topic_findings(typed, "modifiers", "warning")
    assert "overfill" in warn["fix"]
    prose = check_claim(line(PROSE_ID, discarded_amount=20, **SDC), exc_db)
    [warn] = topic_findings(prose, "modifiers", "warning")
    assert "overfill" not in warn["fix"]


@pytest.mark.parametrize("fields, severity", [
    ({"narrative": "Bevacizumab 1.25 mg intravitreal"}, "info"),
    ({"drug_name": "Avastin", "dose": "1.25 mg", "route": "intravitreal"}, "info"),
    ({"drug_name": "Avastin", "dose": "1.25 mg", "route": "IV"}, "error"),
    ({"narrative": "Compounded mixcaine 2 mg intrathecal"}, "error"),
])
def test_invoice_exception_for_intravitreal_bevacizumab(exc_db, fields, severity):
    typed = check_claim(line(TYPED_ID, hcpcs="J7999", **fields), exc_db)
    [finding] = topic_findings(typed, "invoice")
    assert finding["severity"] == severity and finding["rule_id"] == f"{TYPED_ID}--invoice-j7999"
    prose = check_claim(line(PROSE_ID, hcpcs="J7999", **fields), exc_db)
    assert topic_findings(prose, "invoice", "error")


def test_invoice_error_names_the_exception_when_the_line_cannot_show_it(exc_db):
    result = check_claim(line(TYPED_ID, hcpcs="J7999"), exc_db)
    [err] = topic_findings(result, "invoice", "error")
    assert "intravitreal bevacizumab (Avastin); this line does not say" in err["message"]


def test_shipped_palmetto_rule_accepts_mg_per_ml_for_compounded_drugs(built_db):
    base = dict(payer_id="medicare-palmetto-jj", date_of_service="2026-01-15", hcpcs="J3590", units=1,
                narrative="Brandnamumab 25 mg/mL NDC 12345678901", ndc="12345-6789-01", drug_name="Brandnamumab",
                dose="300 mg")
    assert any("mg/mL" in f["message"] for f in topic_findings(check_claim(base, built_db), "narrative", "error"))
    compounded = check_claim({**base, "drug_kind": "compounded"}, built_db)
    assert not [f for f in topic_findings(compounded, "narrative") if f["severity"] != "info" and "mg/mL" in f["message"]]
