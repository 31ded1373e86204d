"""Where the payer has no rule on units, NDC or narrative: a warning citing the national rule, else
the most common one among payers of its type; `--strict` (or strict=True) makes it an error.

On a small fictional knowledge base written here: a national payer, two commercial plans (one
silent on units, NDC and narrative, one with rules of its own) and three Medicaid programs.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import x12_build
from payerkb.check import check_claim
from payerkb.cli import cli
from payerkb.x12_check import check_837

from paths import reference_only_tree

SOURCE = """\
sources:
  - id: {id}-policy
    url: https://example.org/{id}/noc-drugs
    title: Fictional NOC drug policy for tests
    publisher: {name}
    doc_date: 2025-06-01
    retrieved: 2026-11-27
    kind: official
"""
RULE = """\
  - id: {rid}
    topic: {topic}
    codes: all
    setting: {setting}
    requirement: required
    summary: Fictional rule for tests, {words}.
    status: sourced
    sources: [{{ref: {pid}-policy}}]
"""
PAYERS = {  # id: (name, payer type, [(rule id, topic, setting, extra YAML, words)])
    "test-national": ("Test National Program", "medicare_national", [
        ("units", "units", "professional", "    unit_rule: one_unit\n", "one unit a line, nationally"),
        ("narrative", "narrative", "professional", "", "name and dose in the narrative, nationally")]),
    "test-silent": ("Test Silent Plan", "commercial", [
        ("records", "documentation", "any", "", "keep the dose record on file")]),
    "test-own": ("Test Own Plan", "commercial", [
        ("units", "units", "any", "    unit_rule: per_payer_billing_unit\n", "units in the plan's billing unit"),
        ("ndc", "ndc", "any", "", "an NDC on every line"),
        ("narrative", "narrative", "any", "", "a narrative on every line")]),
    "test-medicaid-1": ("Test Medicaid One", "medicaid_ffs", [
        ("units", "units", "outpatient_facility", "    unit_rule: one_unit\n", "one unit on outpatient lines")]),
    "test-medicaid-2": ("Test Medicaid Two", "medicaid_ffs", [
        ("units", "units", "outpatient_facility", "    unit_rule: one_unit\n", "one unit on outpatient lines")]),
    "test-medicaid-3": ("Test Medicaid Three", "medicaid_ffs", [
        ("units", "units", "outpatient_facility", "    unit_rule: ndc_units\n", "units as NDC units")]),
    "test-medicaid-4": ("Test Medicaid Four", "medicaid_ffs", [
        ("records", "documentation", "any", "", "keep the dose record on file")]),
}


def _payer_yaml(pid: str, name: str, kind: str, rules) -> str:
    head = f"id: {pid}\nname: {name}\npayer_type: {kind}\n" + SOURCE.format(id=pid, name=name) + "rules:\n"
    body = "".join(RULE.format(rid=rid, topic=topic, setting=setting, words=words, pid=pid) + extra
                   for rid, topic, setting, extra, words in rules)
    return head + body


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from db.build import build

    root = tmp_path_factory.mktemp("unruled-kb")
    policies = reference_only_tree(root)
    for pid, (name, kind, rules) in PAYERS.items():
        (policies / "payers" / f"{pid}.yml").write_text(_payer_yaml(pid, name, kind, rules))
    out = root / "payerkb.db"
    build(policies, out, extra_steps=[])
    return out


def line(**fields):
    return {"payer_id": "test-silent", "date_of_service": "2026-01-15", "setting": "professional",
            "hcpcs": "J3590", "units": 1, "narrative": "Brandnamumab 300 mg IV", **fields}


def unruled(result, topic):
    return [f for f in result["findings"] if f["topic"] == topic and f.get("reference")]


def test_no_units_rule_warns_and_cites_the_national_rule(kb):
    result = check_claim(line(), kb)
    [f] = unruled(result, "units")
    assert f["severity"] == "warning" and result["ok"] is True
    assert f["rule_id"] == "test-national--units" and f["basis"] == "national rule"
    assert f["source_url"] == "https://example.org/test-national/noc-drugs"
    assert "Test Silent Plan has no sourced units rule" in f["message"]
    assert "Test National Program" in f["message"] and "one unit a line, nationally" in f["message"]
    assert f["reference"]["how"] == "national"
    assert f["likely_denial"], "a warning names the denial codes a units mistake gets"
    # the national payer has no NDC rule for such a line, and no other commercial plan's counts
    # for the silent plan but the one with its own rule: it is the most common (1 of 1)
    [ndc] = unruled(result, "ndc")
    assert ndc["rule_id"] == "test-own--ndc" and ndc["basis"] == "most common rule"


def test_strict_makes_it_an_error(kb):
    result = check_claim(line(), kb, strict=True)
    [f] = unruled(result, "units")
    assert f["severity"] == "error" and f["rule_id"] == "test-national--units"
    assert result["ok"] is False


def test_a_payer_with_its_own_rule_gets_no_such_finding(kb):
    result = check_claim(line(payer_id="test-own"), kb, strict=True)
    assert not [f for f in result["findings"] if f.get("reference")]
    units = [f for f in result["findings"] if f["topic"] == "units"]
    assert [f["rule_id"] for f in units] == ["test-own--units"]


def test_without_a_national_rule_the_most_common_one_of_the_type_is_cited(kb):
    result = check_claim(line(payer_id="test-medicaid-4", setting="outpatient_facility"), kb)
    [f] = unruled(result, "units")
    assert f["basis"] == "most common rule" and f["reference"]["how"] == "most_common"
    assert (f["reference"]["payers"], f["reference"]["of"]) == (2, 3)
    assert "(2 of 3)" in f["message"] and "bill one unit" in f["message"]
    assert f["rule_id"] in {"test-medicaid-1--units", "test-medicaid-2--units"}
    assert {r["payer_id"] for r in f["reference"]["rules"]} == {"test-medicaid-1", "test-medicaid-2"}


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def test_cli_strict_changes_the_exit_status(kb):
    claim = json.dumps(line())
    plain = _runner().invoke(cli, ["check", "-", "--db", str(kb)], input=claim)
    assert plain.exit_code == 0, plain.output
    assert "WARNING" in plain.stdout and "rule test-national--units" in plain.stdout
    strict = _runner().invoke(cli, ["check", "-", "--strict", "--db", str(kb)], input=claim)
    assert strict.exit_code == 1, strict.output
    assert "REJECT LIKELY" in strict.stdout and "rule test-national--units" in strict.stdout


def _837() -> str:
    body = x12_build.header_837(billing_state="TX", payer=("TEST SILENT PLAN", "00001"))
    body += x12_build.claim_837p("UNRULED-1", [{"code": "J3590", "units": 1, "description": "BRANDNAMUMAB 300 MG IV"}])
    return x12_build.envelope([body], control="301")


def test_an_837_with_strict(kb, tmp_path):
    plain = check_837(_837(), kb)
    [entry] = plain["claims"][0]["lines"]
    assert plain["claims"][0]["payer"]["payer_id"] == "test-silent"
    assert entry["result"]["ok"] is True and unruled(entry["result"], "units")[0]["severity"] == "warning"
    strict = check_837(_837(), kb, strict=True)
    assert strict["summary"]["reject_likely"] == 1
    assert unruled(strict["claims"][0]["lines"][0]["result"], "units")[0]["severity"] == "error"
    path = tmp_path / "claims.837"
    path.write_text(_837())
    assert _runner().invoke(cli, ["check", str(path), "--db", str(kb)]).exit_code == 0
    assert _runner().invoke(cli, ["check", str(path), "--strict", "--db", str(kb)]).exit_code == 1

