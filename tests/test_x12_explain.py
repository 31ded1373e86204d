"""`payerkb explain FILE.835`: each denied or reduced NOC drug line explained, with the payer's rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import x12_build
from payerkb.cli import cli
from payerkb.x12_explain import explain_835

FIX = Path(__file__).resolve().parent / "fixtures" / "x12"


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture(scope="module")
def report(built_db):
    return explain_835((FIX / "remittance.835").read_bytes(), built_db)


def _line(report, claim_id, n):
    claim = next(c for c in report["claims"] if c["claim_id"] == claim_id)
    return next(l for l in claim["lines"] if l["line"] == n)


def _item(line, code):
    return next(i for i in line["adjustments"] + line["remarks"] if i["code"] == code)


# (claim, service line, code) -> the rule payerkb names behind it
EXPECTED = {
    ("PAT1-0001", 1, "CO-16"): "medicare-palmetto-jj--narrative-professional",
    ("PAT1-0001", 1, "N350"): "medicare-palmetto-jj--narrative-professional",
    ("PAT1-0001", 1, "M119"): "medicare-palmetto-jj--ndc-format-no-separators",
    ("PAT2-0001", 1, "M123"): "medicare-palmetto-jj--units-professional",
    ("PAT3-0001", 1, "CO-252"): "medicare-palmetto-jj--invoice-professional",
    ("PAT3-0001", 2, "CO-4"): "medicare-palmetto-jj--modifiers-professional-waste",
    ("PAT3-0001", 4, "CO-125"): "medicare-palmetto-jj--ndc-format-no-separators",
    ("PAT5-0001", 1, "CO-96"): "medicare-novitas-jh--coding-noc-only-without-code",
    ("PAT5-0001", 1, "N657"): "medicare-novitas-jh--coding-noc-only-without-code",
}


def test_each_denied_noc_line_names_the_rule_its_fix_and_source(report):
    assert report["errors"] == [] and report["ok"]
    for (claim_id, n, code), rule_id in EXPECTED.items():
        line = _line(report, claim_id, n)
        assert line["status"] == "denied", (claim_id, n)
        item = _item(line, code)
        assert item["meaning"] and item["prevention"], code
        assert item["rule"]["rule_id"] == rule_id, (claim_id, n, code, item["rule"])
        assert item["rule"]["fix"] and item["rule"]["source_url"].startswith("http")
    # the rule whose own denial_codes name the code says so
    assert "denial codes name M123" in _item(_line(report, "PAT2-0001", 1), "M123")["rule"]["why"]


def test_a_code_without_a_payer_rule_says_so(report):
    item = _item(_line(report, "PAT3-0001", 3), "CO-11")
    assert item["rule"] is None and item["meaning"] and "no rule of Palmetto GBA" in item["note"]


def test_payers_come_from_n1_pr_and_the_payee_state(report):
    payers = {c["claim_id"]: c["payer"] for c in report["claims"]}
    assert payers["PAT1-0001"]["payer_id"] == "medicare-palmetto-jj" and "payee's state GA" in payers["PAT1-0001"]["how"]
    assert payers["PAT5-0001"]["payer_id"] == "medicare-novitas-jh"


def test_other_lines_are_skipped_or_paid_and_routine_adjustments_are_not_causes(report):
    assert _line(report, "PAT1-0001", 2)["status"] == "skipped"
    paid = _line(report, "PAT3-0001", 5)
    assert paid["status"] == "paid" and all(a["routine"] for a in paid["adjustments"])
    causes = {c["code"]: c for c in report["summary"]["by_cause"]}
    assert "CO-45" not in causes and "PR-2" not in causes
    assert causes["CO-16"]["lines"] == 2 and causes["CO-16"]["amount"] == 1400
    assert set(causes) >= {"CO-4", "CO-11", "CO-16", "CO-96", "CO-125", "CO-252", "M119", "M123", "N350", "N657"}
    s = report["summary"]
    assert (s["denied"], s["paid"], s["skipped"]) == (7, 1, 1)
    claim = next(c for c in report["claims"] if c["claim_id"] == "PAT1-0001")
    assert claim["remarks"][0]["code"] == "MA130" and "new claim" in claim["remarks"][0]["meaning"]


def test_a_denied_line_without_its_own_reason_takes_the_claims(built_db):
    claims = [{"id": "C-1", "status": "4", "cas": [("CO", "16", 500)], "moa": ["N350"],
               "services": [{"code": "J3590", "charge": 500, "paid": 0}]}]
    text = x12_build.envelope([x12_build.remit_835(claims=claims)], kind="HP", version="005010X221A1", st_id="835")
    line = explain_835(text, built_db)["claims"][0]["lines"][0]
    assert line["status"] == "denied" and line["explained_by_claim_level"]
    assert line["adjustments"][0]["code"] == "CO-16" and line["adjustments"][0]["rule"]["topic"] == "narrative"


def test_explain_command_text_and_json(built_db):
    result = _runner().invoke(cli, ["explain", str(FIX / "remittance.835"), "--db", str(built_db)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "service line 1 (segment 19): J3590: DENIED" in out
    assert "likely rule medicare-palmetto-jj--units-professional" in out and "fix: Bill the NOC line as 1 unit" in out
    assert "denials by cause:" in out and "CO-16: 2 line(s), $1,400.00" in out
    as_json = _runner().invoke(cli, ["explain", str(FIX / "remittance.835"), "--db", str(built_db), "--json"])
    assert json.loads(as_json.stdout)["summary"]["denied"] == 7
    wrong = _runner().invoke(cli, ["explain", str(FIX / "professional.837"), "--db", str(built_db)])
    assert wrong.exit_code == 2 and "use `payerkb check`" in wrong.stderr


def test_a_reduced_line_is_explained_too(built_db):
    claims = [{"id": "R-1", "services": [{"code": "J3590", "charge": 500, "paid": 300,
                                          "cas": [("CO", "45", 100), ("CO", "125", 100)], "remarks": ["M119"]}]}]
    text = x12_build.envelope([x12_build.remit_835(claims=claims)], kind="HP", version="005010X221A1", st_id="835")
    report = explain_835(text, built_db)
    line = report["claims"][0]["lines"][0]
    assert line["status"] == "reduced" and report["summary"]["reduced"] == 1
    assert [c["code"] for c in report["summary"]["by_cause"]] == ["CO-125", "M119"]


def test_institutional_remittance_reads_the_bill_type_and_unknown_payers_are_said(built_db):
    claims = [{"id": "H-1", "facility": "13", "services": [
        {"code": "C9399", "revenue": "0636", "charge": 900, "paid": 0, "cas": [("CO", "16", 900)], "remarks": ["N350"]}]}]
    text = x12_build.envelope([x12_build.remit_835(claims=claims)], kind="HP", version="005010X221A1", st_id="835")
    claim = explain_835(text, built_db)["claims"][0]
    assert claim["setting"] == "outpatient_facility"
    assert claim["lines"][0]["adjustments"][0]["rule"]["rule_id"].startswith("medicare-palmetto-jj--narrative")
    other = x12_build.envelope([x12_build.remit_835(payer=("NOBODY MUTUAL", "1"), claims=claims)], kind="HP",
                               version="005010X221A1", st_id="835")
    item = explain_835(other, built_db)["claims"][0]["lines"][0]["adjustments"][0]
    assert item["rule"] is None and item["note"].startswith("payer not matched") and item["meaning"]
