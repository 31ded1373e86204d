"""Realistic claim lines (tests/fixtures/claims/*.json) checked against the shipped knowledge base.

Each fixture holds a claim line, what it is about, and what the check must say: the exact set of
error findings (topic and rule), warnings and notes that must be among the findings, and values of
the normalized output; or, for malformed input, the field the error names.
"""
from __future__ import annotations

import json

import pytest

from payerkb.check import check_claim
from payerkb.claim import ClaimInputError

from paths import FIXTURES

CLAIMS = sorted((FIXTURES / "claims").glob("*.json"))


def test_there_are_enough_realistic_claims_across_payer_kinds():
    payers = {json.loads(p.read_text())["line"]["payer_id"] for p in CLAIMS}
    assert len(CLAIMS) >= 25
    assert {p for p in payers if p.startswith("medicare-")} and {p for p in payers if p.startswith("medicaid-")}
    assert {"bcbs-texas", "unitedhealthcare", "tricare"} <= payers


def _matches(finding: dict, want: dict) -> bool:
    for key, value in want.items():
        if key == "message":
            if value not in finding["message"]:
                return False
        elif finding.get(key) != value:
            return False
    return True


@pytest.mark.parametrize("path", CLAIMS, ids=[p.stem for p in CLAIMS])
def test_claim(path, built_db):
    case = json.loads(path.read_text())
    expect = case["expect"]
    if "input_error" in expect:
        with pytest.raises(ClaimInputError) as err:
            check_claim(case["line"], built_db)
        assert err.value.field == expect["input_error"]["field"]
        assert expect["input_error"]["message"] in err.value.message
        return

    result = check_claim(case["line"], built_db)
    shown = [f"{f['severity']} {f['topic']} {f['rule_id']}: {f['message']}" for f in result["findings"]]
    assert result["ok"] == expect["ok"], shown
    errors = [f for f in result["findings"] if f["severity"] == "error"]
    assert sorted((f["topic"], f["rule_id"] or "") for f in errors) == sorted(
        (e["topic"], e["rule_id"] or "") for e in expect["errors"]), shown
    for want in expect["errors"]:
        assert any(_matches(f, want) for f in errors), (want, shown)
    for severity, key in (("warning", "warnings"), ("info", "infos")):
        for want in expect.get(key, []):
            assert any(f["severity"] == severity and _matches(f, want) for f in result["findings"]), (want, shown)
    for topic in expect.get("no_errors_on", []):
        assert not [f for f in errors if f["topic"] == topic], shown
    for key, value in expect.get("normalized", {}).items():
        assert result["normalized"][key] == value, (key, result["normalized"])


@pytest.mark.parametrize("path", [p for p in CLAIMS if "input_error" not in json.loads(p.read_text())["expect"]][:8],
                         ids=lambda p: p.stem)
def test_every_finding_is_traceable(path, built_db):
    """Errors and warnings name a rule or a reference table, and rule-backed ones their source."""
    result = check_claim(json.loads(path.read_text())["line"], built_db)
    for f in result["findings"]:
        assert f["severity"] in ("error", "warning", "info") and f["message"]
        assert f["rule_id"] or f["basis"], f
        if f["rule_id"] and f["rule_status"] == "sourced":
            assert f["source_url"] and f["source_url"].startswith("http"), f
        if f["severity"] == "info":
            assert f["likely_denial"] == []
