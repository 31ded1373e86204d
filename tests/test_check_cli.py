"""`payerkb check` and `payerkb which-code` through click's test runner, on the shipped database."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from payerkb.cli import cli

WRONG_UNITS = {"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 3,
               "narrative": "Brandnamumab 300 mg IV"}
CLEAN = {"payer_id": "aetna", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1,
         "narrative": "Brandnamumab 300 mg IV"}


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr into stdout unless told not to
    except TypeError:
        return CliRunner()


@pytest.fixture()
def run(built_db):
    def go(*args, stdin=None):
        return _runner().invoke(cli, [*args, "--db", str(built_db)], input=stdin)
    return go


def test_text_report_names_the_problem_the_fix_and_the_rule(run, tmp_path):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(WRONG_UNITS, indent=2))
    result = run("check", str(claim))
    assert result.exit_code == 1
    out = result.stdout
    assert "REJECT LIKELY" in out and "ERROR" in out and "3 units billed" in out
    assert "fix: Bill 1 unit" in out
    assert "rule medicare-wps-j5--units-professional" in out and "likely denial M123" in out
    assert "corrected: units 1" in out


def test_json_from_stdin_and_exit_zero_when_clean(run):
    result = run("check", "-", "--json", stdin=json.dumps(CLEAN))
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["normalized"]["narrative"] == "Brandnamumab 300 mg IV"


def test_min_severity_hides_notes(run):
    full = run("check", "-", stdin=json.dumps(CLEAN))
    quiet = run("check", "-", "--min-severity", "warning", stdin=json.dumps(CLEAN))
    assert "No public source" in full.stdout and "No public source" not in quiet.stdout


def test_json_lines_batch_gives_one_result_per_line_and_names_bad_lines(run, tmp_path):
    batch = tmp_path / "claims.jsonl"
    batch.write_text("\n".join([json.dumps(CLEAN), json.dumps({**WRONG_UNITS, "units": "three"}),
                                "{not json", json.dumps(WRONG_UNITS)]) + "\n")
    result = run("check", str(batch), "--json")
    assert result.exit_code == 2
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["ok"] is True and rows[3]["ok"] is False
    assert rows[1]["field"] == "units" and "must be a number" in rows[1]["error"]
    assert "not valid JSON" in rows[2]["error"]
    assert "line 2: units: must be a number" in result.stderr
    assert "line 3: not valid JSON" in result.stderr


def test_a_json_array_is_a_batch_too(run):
    result = run("check", "-", "--json", stdin=json.dumps([CLEAN, WRONG_UNITS]))
    assert result.exit_code == 1
    assert [json.loads(x)["ok"] for x in result.stdout.splitlines()] == [True, False]


@pytest.mark.parametrize("stdin, words", [
    ("", "the input is empty"),
    ('{"payer_id": "aetna", "hcpcs": "J3590",', "not valid JSON"),
    (json.dumps({**CLEAN, "payer_id": "aetnna"}), "payer_id: unknown payer 'aetnna'; did you mean aetna"),
    (json.dumps({**CLEAN, "hcpcs": "J9"}), "hcpcs:"),
])
def test_malformed_input_exits_2_with_a_message(run, stdin, words):
    result = run("check", "-", stdin=stdin)
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_database(tmp_path):
    result = _runner().invoke(cli, ["check", "-", "--db", str(tmp_path / "none.db")], input="{}")
    assert result.exit_code == 2 and "run `payerkb build` first" in result.stderr


def test_which_code_outpatient_medicare_biologic(run):
    result = run("which-code", "--drug-kind", "biologic", "--setting", "outpatient_facility",
                 "--payer", "medicare-palmetto-jj", "--date", "2026-01-15")
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("C9399")
    assert "why:" in result.stdout and "source: https://www.cms.gov/" in result.stdout
    assert "instead: J3590" in result.stdout
    assert "payer rule medicare-palmetto-jj--coding-c9399-opps" in result.stdout


def test_which_code_json_and_ndc_detection(run):
    result = run("which-code", "--ndc", "50242-0060-01", "--date", "2026-01-15", "--json")
    answer = json.loads(result.stdout)
    assert answer["code"] == "J9035" and answer["basis"] == "crosswalk"
    oral = json.loads(run("which-code", "--drug-kind", "oral_chemo", "--json").stdout)
    assert oral["code"] == "J8999"


@pytest.mark.parametrize("args, words", [
    (["--drug-kind", "biologic", "--payer", "medicare-palmeto-jj"], "--payer: unknown payer"),
    (["--drug-kind", "biologic", "--date", "2026/01/15"], "--date: write dates as YYYY-MM-DD"),
    (["--drug-kind", "biologics"], "Invalid value for '--drug-kind'"),
    (["--ndc", "1234"], "--ndc:"),
])
def test_which_code_bad_options(run, args, words):
    result = run("which-code", *args)
    assert result.exit_code == 2
    assert words in result.stderr
