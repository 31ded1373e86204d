"""Issue 11's targets, measured on the database built from the shipped policies/ by the same code
`payerkb coverage` uses, and issue 12's drug-rule breadth."""
from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from payerkb.cli import cli
from payerkb.coverage import compute_coverage


def test_every_knowledge_target_is_met(built_db):
    report = compute_coverage(built_db)
    targets = {t["target"]: t for t in report["targets"]}
    assert targets["payers"]["value"] >= 90
    assert targets["payers_with_3_topics_sourced"]["value"] >= 45
    assert targets["payers_with_prior_auth_sourced"]["value"] >= 20
    assert targets["official_share_percent"]["value"] >= 70
    assert targets["invoice_rules_silent_on_threshold"]["value"] == 0, report["invoice_rules_silent_on_threshold"]
    assert all(t["met"] for t in report["targets"])


def test_coverage_shows_the_targets(built_db):
    result = CliRunner().invoke(cli, ["coverage", "--db", str(built_db)])
    assert result.exit_code == 0
    assert "targets (issue 11):" in result.output and "NOT MET" not in result.output


def test_invoice_rules_give_a_threshold_or_say_there_is_none(built_db):
    conn = sqlite3.connect(built_db)
    rows = conn.execute("select id, threshold_usd, summary from rules where topic = 'invoice' and origin != 'gap' "
                        "and requirement in ('required', 'conditional')").fetchall()
    assert rows
    for rule_id, threshold, summary in rows:
        assert threshold is not None or "no dollar threshold" in summary.lower(), rule_id
    # thresholds that sources give are typed
    assert conn.execute("select count(*) from rules where threshold_usd is not null").fetchone()[0] >= 2


def test_at_least_200_drug_rules_from_at_least_8_organisations(built_db):
    conn = sqlite3.connect(built_db)
    n = conn.execute("select count(*) from drug_rules where status != 'needs_review'").fetchone()[0]
    assert n >= 200
    orgs = {row[0].split(" Mutual")[0] for row in conn.execute(
        "select distinct coalesce(p.parent_org, p.name) from drug_rules d join payers p on p.id = d.payer_id")}
    assert len(orgs) >= 8, orgs
    # every drug rule has a source and a date of service it starts
    assert conn.execute("select count(*) from drug_rules where effective_from is null").fetchone()[0] == 0
    assert conn.execute("select count(*) from drug_rules d where not exists "
                        "(select 1 from drug_rule_sources s where s.drug_rule_id = d.id)").fetchone()[0] == 0


def test_the_readme_counts_match_the_build(built_db):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    conn = sqlite3.connect(built_db)
    count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert f"It covers {count('select count(*) from payers')} payers today" in readme
    assert f"{count('select count(*) from drug_rules')} drug-level rules" in readme
    assert f"for {count('select count(*) from drugs')} drugs" in readme
    by_type = dict(conn.execute("select payer_type, count(*) from payers group by 1").fetchall())
    for words, payer_type in (("Blue Cross Blue Shield plans", "bcbs"), ("Medicaid managed-care plans", "medicaid_mco"),
                              ("state Medicaid programs", "medicaid_ffs")):
        assert re.search(rf"\b{by_type[payer_type]} {words}", readme), words
    line = re.search(r"built db/payerkb.db: (\d+) payers, (\d+) rules, (\d+) sources", readme)
    assert line and tuple(map(int, line.groups())) == (
        count("select count(*) from payers"), count("select count(*) from rules"), count("select count(*) from sources"))
