"""`payerkb check FILE.837`: every service line of an 837P / 837I checked, with its place in the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import x12_build
from payerkb import x12
from payerkb.cli import cli
from payerkb.x12_check import check_837

FIX = Path(__file__).resolve().parent / "fixtures" / "x12"


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture()
def run(built_db):
    def go(*args, stdin=None):
        return _runner().invoke(cli, [*args, "--db", str(built_db)], input=stdin)
    return go


def test_fixtures_are_what_the_builder_writes():
    assert (FIX / "professional.837").read_bytes().decode() == x12_build.professional()
    assert (FIX / "institutional.837").read_bytes().decode() == x12_build.institutional()
    assert (FIX / "remittance.835").read_bytes().decode() == x12_build.remittance()


def _line(report, claim_id, lx):
    claim = next(c for c in report["claims"] if c["claim_id"] == claim_id)
    return claim, next(l for l in claim["lines"] if l["lx"] == lx)


def test_professional_837_gives_per_line_findings_with_positions(run):
    result = run("check", str(FIX / "professional.837"), "--json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["interchanges"] == 2 and report["errors"] == []
    assert report["summary"] == {"claims": 4, "lines": 6, "checked": 5, "reject_likely": 4, "skipped": 1,
                                 "not_checked": 0}
    claim, line = _line(report, "PAT1-0001", "3")
    assert (claim["interchange"], claim["transaction_set"], claim["segment"]) == ("000000101", "0001", 20)
    assert claim["payer"]["payer_id"] == "medicare-palmetto-jj" and "state GA" in claim["payer"]["how"]
    assert claim["setting"] == "professional" and claim["place_of_service"] == "11"
    assert line["segment"] == 31 and line["status"] == "checked"
    assert line["line"]["ndc"] == x12_build.AVASTIN_NDC and line["line"]["ndc_unit"] == "ML"
    assert line["line"]["narrative_field"] == "837p-2400-sv101-7" and line["line"]["modifiers"] == ["JZ"]
    coding = next(f for f in line["result"]["findings"] if f["topic"] == "coding" and f["severity"] == "error")
    assert "J9035" in coding["message"] and line["result"]["normalized"]["suggested_code"] == "J9035"
    # a line on a code that is not NOC is listed, not checked
    _, admin = _line(report, "PAT1-0001", "2")
    assert admin["status"] == "skipped" and "not a NOC" in admin["reason"]
    # more than one unit, no description, no NDC
    _, j3490 = _line(report, "PAT2-0001", "1")
    errors = {f["topic"] for f in j3490["result"]["findings"] if f["severity"] == "error"}
    assert {"units", "narrative"} <= errors
    assert any(f["topic"] == "ndc" and "No NDC" in f["message"] for f in j3490["result"]["findings"])
    # prior authorization number from REF*G1, and the second interchange's own separators
    _, j9999 = _line(report, "PAT3-0001", "1")
    assert j9999["line"]["prior_auth_number"] == "PA20260001" and j9999["line"]["billed_amount"] == 7000
    wps, wline = _line(report, "PAT4-0001", "1")
    assert wps["interchange"] == "000000102" and wps["payer"]["payer_id"] == "medicare-wps-j5"
    assert any(f["topic"] == "units" and f["severity"] == "error" for f in wline["result"]["findings"])


def test_professional_text_report_shows_positions(run):
    result = run("check", str(FIX / "professional.837"), "--min-severity", "error")
    assert result.exit_code == 1
    out = result.stdout
    assert "interchange 000000101, transaction set 0001, claim PAT1-0001 (segment 20)" in out
    assert "line 3 (segment 31): J3590 x1: REJECT LIKELY" in out and "under J9035" in out
    assert "line 2 (segment 28): 96413: skipped" in out
    assert "2 interchange(s), 4 claim(s), 6 line(s): 5 checked (4 reject likely)" in out


def test_institutional_837_derives_the_setting_from_the_type_of_bill(run):
    result = run("check", str(FIX / "institutional.837"), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 2  # one claim's payer is not in payerkb: reported, not guessed
    hosp, c9399 = _line(report, "HOSP1-0001", "1")
    assert hosp["transaction"] == "837I" and hosp["type_of_bill"] == "0131" and hosp["setting"] == "outpatient_facility"
    assert c9399["status"] == "checked" and c9399["line"]["narrative_field"] == "837i-2400-sv202-7"
    _, j3590 = _line(report, "HOSP1-0001", "2")
    assert any(f["topic"] == "coding" and "C9399" in f["message"] for f in j3590["result"]["findings"])
    _, rev = _line(report, "HOSP1-0001", "3")
    assert rev["status"] == "skipped" and "revenue code only" in rev["reason"]
    asc, asc_line = _line(report, "ASC1-0001", "1")
    assert asc["type_of_bill"] == "0831" and asc["setting"] == "asc" and asc_line["line"]["units"] == 2
    other, unmatched = _line(report, "HOSP2-0001", "1")
    assert other["payer"]["payer_id"] is None and "ACME HEALTH PLAN OF NOWHERE" in other["payer"]["how"]
    assert unmatched["status"] == "not_checked" and unmatched["reason"].startswith("payer:")
    assert report["summary"]["not_checked"] == 1


def test_payer_option_overrides_the_file(run):
    result = run("check", str(FIX / "institutional.837"), "--json", "--payer", "aetna")
    report = json.loads(result.stdout)
    assert {c["payer"]["payer_id"] for c in report["claims"]} == {"aetna"}
    assert report["summary"]["not_checked"] == 0
    bad = run("check", str(FIX / "institutional.837"), "--payer", "aetnaa")
    assert bad.exit_code == 2 and "unknown payer" in bad.stderr


def test_format_is_detected_and_can_be_forced(run):
    data = (FIX / "professional.837").read_bytes()
    assert run("check", "-", "--json", stdin=b"\r\n  " + data).exit_code == 1
    forced = run("check", "-", "--format", "x12", stdin=b'{"payer_id": "aetna"}')
    assert forced.exit_code == 2 and "not an X12 file" in forced.stderr
    claim = {"payer_id": "aetna", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1,
             "narrative": "Brandnamumab 300 mg IV"}
    assert run("check", "-", stdin=json.dumps(claim).encode()).exit_code in (0, 1)  # JSON stays the default


def test_narrative_goes_where_the_payer_reads_it(built_db):
    body = x12_build.header_837()
    body += x12_build.claim_837p("NTE-1", [{"code": "J3590", "units": 1, "note": "BRANDNAMUMAB 300 MG IV",
                                            "ndc": x12_build.INVENTED_NDC, "ndc_unit": "ML"}])
    report = check_837(x12_build.envelope([body]), built_db)
    line = report["claims"][0]["lines"][0]
    assert line["line"]["narrative"] == "BRANDNAMUMAB 300 MG IV" and line["line"]["narrative_field"] == "837p-2400-nte"


def test_invoice_attachment_comes_from_pwk(built_db):
    body = x12_build.header_837(payer=("UNITEDHEALTHCARE", "87726"))
    body += x12_build.claim_837p("INV-1", [{"code": "J3590", "units": 1, "charge": 900}], pwk=("04", "FX"))
    body += x12_build.claim_837p("INV-2", [{"code": "J3590", "units": 1, "charge": 900}], pwk=("04", "AA"))
    report = check_837(x12_build.envelope([body]), built_db)
    sent, kept = (c["lines"][0]["line"] for c in report["claims"])
    assert sent["invoice_attached"] is True and kept["invoice_attached"] is False
    assert report["claims"][0]["payer"]["payer_id"] == "unitedhealthcare"


def test_ambiguous_payer_is_reported_not_guessed(built_db):
    body = x12_build.header_837(billing_state="ZZ", payer=("PALMETTO GBA", "00000"))
    body += x12_build.claim_837p("AMB-1", [{"code": "J3590", "units": 1}])
    report = check_837(x12_build.envelope([body]), built_db)
    payer = report["claims"][0]["payer"]
    assert payer["payer_id"] is None and set(payer["candidates"]) >= {"medicare-palmetto-jj", "medicare-palmetto-jm"}
    assert report["claims"][0]["lines"][0]["status"] == "not_checked"


def test_jurisdiction_in_the_name_decides(built_db):
    body = x12_build.header_837(billing_state="ZZ", payer=("PALMETTO GBA JM", "11202"))
    body += x12_build.claim_837p("JM-1", [{"code": "J3590", "units": 1}])
    report = check_837(x12_build.envelope([body]), built_db)
    assert report["claims"][0]["payer"]["payer_id"] == "medicare-palmetto-jm"


def test_line_date_falls_back_to_the_claim_and_bad_dates_are_named(built_db):
    body = x12_build.header_837(institutional=True)
    body += x12_build.claim_837i("D-1", [{"code": "J3590", "units": 1, "description": "X 1 MG IV"}])
    text = x12_build.envelope([body], version="005010X223A2").replace("DTP*472*D8*20260115~\n", "")
    line = check_837(text, built_db)["claims"][0]["lines"][0]
    assert line["line"]["date_of_service"] == "2026-01-15"  # from DTP*434
    bad = x12_build.envelope([x12_build.header_837() + x12_build.claim_837p(
        "D-2", [{"code": "J3590", "date": "20261399"}])])
    line = check_837(bad, built_db)["claims"][0]["lines"][0]
    assert line["status"] == "not_checked" and line["field"] == "date_of_service"


def test_reader_reads_separators_from_isa():
    seps = x12_build.Seps(element="^", component="\\", repetition="{", segment="'", newline="")
    body = x12_build.header_837() + x12_build.claim_837p("S-1", [{"code": "J3590", "modifiers": ["JZ"],
                                                                   "description": "A 1 MG IV"}], seps=seps)
    reader = x12.read(x12_build.envelope([body], seps=seps))
    assert reader.errors == []
    sep = reader.transactions[0].separators
    assert (sep.element, sep.component, sep.repetition, sep.segment) == ("^", "\\", "{", "'")
    line = x12.claims_837(reader.transactions[0])[0].lines[0]
    assert (line.code, line.modifiers, line.description) == ("J3590", ["JZ"], "A 1 MG IV")


def test_claims_under_a_patient_loop_keep_the_subscribers_payer(built_db):
    body = x12_build.header_837()
    body += [["HL", "3", "2", "23", "0"], ["PAT", "19"], ["NM1", "QC", "1", "SAMPLE", "KID"]]
    body += x12_build.claim_837p("KID-1", [{"code": "J3590", "units": 1, "description": "A 1 MG IV"}])
    # another payer in loop 2330B (coordination of benefits) is not the claim's payer
    body.insert(-3, ["SBR", "S", "18"])  # before LX: loops 2320 and 2330B of the claim
    body.insert(-3, ["NM1", "PR", "2", "AETNA", "", "", "", "", "PI", "60054"])
    assert body[-3][0] == "LX" and body[-5][0] == "SBR"
    claim = check_837(x12_build.envelope([body]), built_db)["claims"][0]
    assert claim["payer"]["payer_id"] == "medicare-palmetto-jj"
    assert claim["lines"][0]["status"] == "checked"
