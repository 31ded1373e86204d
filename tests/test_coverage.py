"""`payerkb coverage`: the payer x topic status table, the official-source share, --json, exit codes."""
from __future__ import annotations

import json
import sqlite3

import pytest
import sqlite_utils
from click.testing import CliRunner

from db.schema import TOPICS
from payerkb.cli import cli
from payerkb.coverage import STATUSES, compute_coverage


def _rule(payer, topic, status, origin="manual", official=0):
    return {"id": f"{payer}--{topic}-{status}-{origin}-{official}", "payer_id": payer, "topic": topic,
            "status": status, "origin": origin, "has_official_source": official}


@pytest.fixture()
def small_db(tmp_path):
    """Two payers whose cells cover every case of the status precedence."""
    path = tmp_path / "small.db"
    db = sqlite_utils.Database(path)
    db["payers"].insert_all([
        {"id": "plan-a", "name": "Plan A", "payer_type": "commercial"},
        {"id": "state-b", "name": "State B Medicaid", "payer_type": "medicaid_ffs"},
    ], pk="id")
    rules = [
        _rule("plan-a", "prior_auth", "sourced", official=1),
        _rule("plan-a", "prior_auth", "conflicting", official=1),  # conflicting wins over sourced
        _rule("plan-a", "invoice", "sourced"),  # a secondary source only
        _rule("plan-a", "pricing", "unconfirmed"),
        _rule("plan-a", "ndc", "needs_review", origin="scraped"),  # scraped, not reviewed yet
        _rule("plan-a", "ndc", "unconfirmed", origin="gap"),
        _rule("plan-a", "narrative", "superseded", official=1),  # no longer counts
        _rule("plan-a", "narrative", "unconfirmed", origin="gap"),
    ]
    rules += [_rule("plan-a", t, "unconfirmed", origin="gap") for t in TOPICS[5:]]
    rules += [_rule("state-b", t, "unconfirmed", origin="gap") for t in TOPICS]
    db["rules"].insert_all(rules, pk="id")
    return path


def test_cell_status_precedence_and_official_share(small_db):
    report = compute_coverage(small_db)
    a, b = report["payers"]
    assert a["payer_id"] == "plan-a" and b["payer_id"] == "state-b"
    assert a["cells"] == {
        "prior_auth": "conflicting", "invoice": "sourced", "pricing": "unconfirmed", "ndc": "unconfirmed",
        "narrative": "unknown", **{t: "unknown" for t in TOPICS[5:]},
    }
    assert a["cell_counts"] == {"sourced": 1, "conflicting": 1, "unconfirmed": 2, "unknown": 6}
    # five written rules count (gaps and the superseded one do not), two cite an official source
    assert (a["rules"], a["official_rules"], a["official_share"]) == (5, 2, 0.4)
    assert set(b["cells"].values()) == {"unknown"} and b["official_share"] is None
    assert report["by_payer_type"]["medicaid_ffs"]["official_share"] is None
    assert report["overall"] == {
        "payers": 2, "cells": 20, "cell_counts": {"sourced": 1, "conflicting": 1, "unconfirmed": 2, "unknown": 16},
        "rules": 5, "official_rules": 2, "official_share": 0.4,
    }


def test_table_shows_one_row_per_payer_with_a_mark_per_topic(small_db):
    result = CliRunner().invoke(cli, ["coverage", "--db", str(small_db)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("plan-a"))
    assert row.split()[2:] == ["C", "S", "U", "U", ".", ".", ".", ".", ".", ".", "5", "40%"]
    total = next(line for line in result.output.splitlines() if line.startswith("all payers"))
    assert total.split()[2:] == ["2", "20", "1", "1", "2", "16", "10%", "5", "40%"]


def test_fail_under_sets_the_exit_code(small_db):
    runner = CliRunner()
    assert runner.invoke(cli, ["coverage", "--db", str(small_db), "--fail-under", "40"]).exit_code == 0
    failed = runner.invoke(cli, ["coverage", "--db", str(small_db), "--fail-under", "41"])
    assert failed.exit_code == 1 and "below --fail-under 41%" in failed.output


def test_missing_or_foreign_database_is_a_clear_error(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["coverage", "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1 and "nope.db: database not found" in missing.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.close()
    foreign = runner.invoke(cli, ["coverage", "--db", str(other), "--json"])
    assert foreign.exit_code == 1 and "not a payerkb database (no payers, rules table)" in foreign.output


def test_json_on_the_built_database(built_db):
    result = CliRunner().invoke(cli, ["coverage", "--db", str(built_db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"database", "topics", "statuses", "payers", "by_payer_type", "overall", "targets",
                           "invoice_rules_silent_on_threshold"}
    assert {t["target"] for t in report["targets"]} == {
        "payers", "payers_with_3_topics_sourced", "payers_with_prior_auth_sourced", "official_share_percent",
        "invoice_rules_silent_on_threshold"}
    assert report["topics"] == list(TOPICS) and report["statuses"] == list(STATUSES)
    n_payers = sqlite3.connect(built_db).execute("select count(*) from payers").fetchone()[0]
    assert len(report["payers"]) == report["overall"]["payers"] == n_payers
    for row in report["payers"]:
        assert list(row["cells"]) == list(TOPICS) and set(row["cells"].values()) <= set(STATUSES)
        assert sum(row["cell_counts"].values()) == len(TOPICS)
    by_id = {r["payer_id"]: r for r in report["payers"]}
    assert by_id["tricare"]["cells"]["coding"] == "conflicting"
    assert by_id["medicaid-tx"]["cells"]["submission"] == "sourced"
    assert by_id["anthem-colorado"]["cell_counts"]["unknown"] == len(TOPICS)  # nothing found for it yet
    assert {"medicaid_ffs", "commercial", "bcbs", "tricare"} <= set(report["by_payer_type"])
    assert 0 < report["overall"]["official_share"] <= 1


def test_payer_type_filter_and_table_on_the_built_database(built_db):
    result = CliRunner().invoke(cli, ["coverage", "--db", str(built_db), "--payer-type", "medicaid_ffs"])
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.output.splitlines() if line.startswith("medicaid-")]
    assert len(rows) >= 12 and "medicaid-tx" in rows
    assert "tricare" not in result.output.split("payer type")[0]


@pytest.mark.asyncio
async def test_canned_query_agrees_with_the_command(ds, built_db):
    r = await ds.client.get("/payerkb/coverage.json?_shape=array&payer_type=tricare")
    assert r.status_code == 200
    (row,) = r.json()
    cli_row = next(p for p in compute_coverage(built_db)["payers"] if p["payer_id"] == "tricare")
    # the canned query counts rules, the command topics: each conflicting topic has two rules or more
    assert row["conflicting"] >= 2 * cli_row["cell_counts"]["conflicting"] >= 4 and row["rules"] == cli_row["rules"]
    assert row["official_share_pct"] == round(cli_row["official_share"] * 100, 1)
    assert row["gap_topics"] == cli_row["cell_counts"]["unknown"]
