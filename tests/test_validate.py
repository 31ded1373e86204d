"""`payerkb validate`: every problem reported as file:line: message, exit 1."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from db import validate, yamlload
from db.validate import load_policies
from payerkb.cli import cli

GOOD_PAYER = """\
id: test-payer
name: Test Health Plan
payer_type: commercial
states: [TX]
sources:
  - id: test-source
    url: https://example.org/policy
    title: Test policy page
    publisher: Test Health Plan
    doc_date: 2024-03-06
    retrieved: 2026-11-27
    kind: official
rules:
  - id: invoice-over-threshold
    topic: invoice
    codes: [J3590]
    requirement: conditional
    summary: An invoice is needed when the line is billed above the threshold.
    threshold_usd: 500
    status: sourced
    sources: [{ref: test-source}]
"""


def write(policies, name, text):
    path = policies / "payers" / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_for(policies):
    _, problems = load_policies(policies)
    return [str(p) for p in problems]


def test_shipped_policies_are_valid():
    kb, problems = load_policies("policies")
    assert problems == []
    assert len(kb.payers) >= 3


def test_good_payer_file_is_accepted(policies_reference_only):
    write(policies_reference_only, "test-payer.yml", GOOD_PAYER)
    assert problems_for(policies_reference_only) == []


@pytest.mark.parametrize(
    "old, new, line, fragment",
    [
        ("topic: invoice", "topic: invioce", 15, "'invioce' is not one of"),
        ("topic: invoice", "topic: invioce", 15, "did you mean 'invoice'"),
        ("    threshold_usd: 500", "    threshold_usd: five hundred", 19, "threshold_usd"),
        ("    status: sourced\n", "    status: sourced\n    colour: red\n", 21, "unknown key 'colour'"),
        ("doc_date: 2024-03-06", "doc_date: 2023-02-30", 10, "not a real calendar date"),
        ("retrieved: 2026-11-27", "retrieved: 2999-01-01", 11, "is in the future"),
        ("url: https://example.org/policy", "url: javascript:alert(1)", 7, "http(s)"),
        ("codes: [J3590]", "codes: [J3599]", 16, "unknown code 'J3599'"),
        ("sources: [{ref: test-source}]", "sources: [{ref: test-sorce}]", 21, "unknown source 'test-sorce'"),
        ("payer_type: commercial", "payer_type: comercial", 3, "did you mean 'commercial'"),
        ("    status: sourced\n    sources: [{ref: test-source}]\n", "    status: sourced\n", 20,
         "has no source, so its status must be 'unconfirmed'"),
        ("states: [TX]", "states: [TX]\nname: Again", 5, "duplicate key 'name'"),
        ("    threshold_usd: 500\n", "    threshold_usd: 500\n    exceptions: [compunded]\n", 20,
         "did you mean 'compounded'"),
        ("  - id: invoice-over-threshold\n    topic", "  - id: invoice-over-threshold\n\ttopic", 15, "tabs"),
    ],
)
def test_bad_payer_file_reports_file_and_line(policies_reference_only, old, new, line, fragment):
    assert old in GOOD_PAYER
    write(policies_reference_only, "test-payer.yml", GOOD_PAYER.replace(old, new))
    problems = problems_for(policies_reference_only)
    expected_prefix = f"{policies_reference_only / 'payers' / 'test-payer.yml'}:{line}:"
    matching = [p for p in problems if p.startswith(expected_prefix) and fragment in p]
    assert matching, f"no problem at line {line} mentioning {fragment!r}; got {problems}"


def test_duplicate_rule_and_source_ids(policies_reference_only):
    text = GOOD_PAYER + textwrap.indent(
        "- id: invoice-over-threshold\n  topic: pricing\n  codes: [J3590]\n  requirement: unknown\n"
        "  summary: Nothing found about pricing yet.\n  status: unconfirmed\n",
        "  ",
    )
    write(policies_reference_only, "test-payer.yml", text)
    write(policies_reference_only, "other-payer.yml", GOOD_PAYER.replace("id: test-payer", "id: other-payer").replace(
        "rules:", "rules: []\nx_rules:").split("x_rules:")[0])
    problems = problems_for(policies_reference_only)
    assert any(":22: duplicate rule id 'invoice-over-threshold'" in p for p in problems), problems
    assert any("test-payer.yml:6: duplicate source id 'test-source' (also in" in p and "other-payer.yml" in p for p in problems), problems


def test_two_live_rules_with_one_scope_must_be_marked_conflicting(policies_reference_only):
    text = GOOD_PAYER + textwrap.indent(
        "- id: invoice-second-opinion\n  topic: invoice\n  codes: [J3590]\n  requirement: required\n"
        "  summary: Another page says an invoice is always needed.\n  status: unconfirmed\n",
        "  ",
    )
    write(policies_reference_only, "test-payer.yml", text)
    problems = problems_for(policies_reference_only)
    assert any("mark both 'conflicting'" in p for p in problems), problems
    # marking both conflicting makes it valid
    text = text.replace("status: sourced", "status: conflicting").replace("status: unconfirmed", "status: conflicting")
    text = text.replace("    summary: Another page says an invoice is always needed.\n",
                        "    summary: Another page says an invoice is always needed.\n    sources: [{ref: test-source}]\n")
    write(policies_reference_only, "test-payer.yml", text)
    assert problems_for(policies_reference_only) == []


def test_file_name_must_match_id_and_includes_must_exist(policies_reference_only):
    write(policies_reference_only, "wrong-name.yml", GOOD_PAYER.replace("states: [TX]", "states: [TX]\nincludes: [no-such-group]"))
    problems = problems_for(policies_reference_only)
    assert any("wrong-name.yml:1: payer id 'test-payer' must match the file name" in p for p in problems)
    assert any("wrong-name.yml:5: unknown rule group 'no-such-group'" in p for p in problems)


def test_yaml_syntax_error_has_a_line(policies_reference_only):
    write(policies_reference_only, "test-payer.yml", GOOD_PAYER.replace("states: [TX]", "states: [TX"))
    problems = problems_for(policies_reference_only)
    assert len(problems) == 1 and "YAML syntax error" in problems[0]
    assert problems[0].split(":")[1].isdigit()


def test_cli_validate_exits_1_and_prints_file_line(policies_reference_only):
    write(policies_reference_only, "test-payer.yml", GOOD_PAYER.replace("topic: invoice", "topic: invioce"))
    result = CliRunner().invoke(cli, ["validate", "--policies", str(policies_reference_only)])
    assert result.exit_code == 1
    assert f"{policies_reference_only / 'payers' / 'test-payer.yml'}:15: rules[0].topic: 'invioce'" in result.output


def test_cli_validate_ok_on_shipped_policies():
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


# --- the fast paths (issue 17) give the same answers as the plain ones ---------------------------

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"


def _corpus_tree(root: Path) -> Path:
    """The shipped reference vocabulary and every bad payer file of tests/bad_inputs/ at once."""
    shutil.copytree(Path("policies") / "reference", root / "reference")
    (root / "payers").mkdir()
    for bad in sorted(BAD_INPUTS.glob("*.yml")):
        if bad.name != "cases.yml":
            shutil.copy(bad, root / "payers" / bad.name)
    (root / "payers" / "test-payer.yml").write_text(GOOD_PAYER)
    return root


def test_libyaml_and_the_python_loader_report_the_same_problems_and_lines(tmp_path, monkeypatch):
    tree = _corpus_tree(tmp_path / "policies")
    with_c = problems_for(tree)
    assert len(with_c) > 20
    monkeypatch.setattr(yamlload, "_CSafeLoader", None)  # as on a PyYAML built without libyaml
    assert problems_for(tree) == with_c


def test_rule_lines_kept_for_the_database_are_the_lines_in_the_file(tmp_path):
    kb, problems = load_policies("policies")
    assert problems == []
    for located in kb.payers[:40]:
        raw = yaml.load(Path(located.path).read_text(encoding="utf-8-sig"), Loader=yamlload._LineLoader)
        for i, _ in enumerate(located.model.rules):
            for loc in (("rules", i), ("rules", i, "status"), ("id",), ("sources", 0, "url")):
                assert located.line(*loc) == yamlload.line_of(raw, loc), (located.path, loc)


def test_many_files_read_in_worker_processes_give_the_same_problems(tmp_path, monkeypatch):
    tree = _corpus_tree(tmp_path / "policies")
    kb, problems = load_policies(tree)
    in_process = ([str(p) for p in problems], [(p.path, p.model.id, p.line("rules", 0)) for p in kb.payers])
    monkeypatch.setattr(validate, "_workers", lambda n: 2)  # as from PARALLEL_FROM files, even on one core
    kb, problems = load_policies(tree)
    assert ([str(p) for p in problems], [(p.path, p.model.id, p.line("rules", 0)) for p in kb.payers]) == in_process
    assert in_process[1], "the good payer file was read"
