"""`payerkb build`: tables, keys, FTS, views, and a failed build that changes nothing."""
from __future__ import annotations

import hashlib
import json

import pytest
import sqlite_utils
from click.testing import CliRunner

from db.build import BuildError, build
from db.schema import TOPICS
from payerkb.cli import cli


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_contract_tables_and_columns(built_db):
    db = sqlite_utils.Database(built_db)
    for table, columns in {
        "payers": {"id", "name", "parent_org", "payer_type", "states", "jurisdiction", "website"},
        "codes": {"code", "short_descriptor", "long_descriptor", "opps_status_indicator", "add_date", "term_date"},
        "sources": {"id", "url", "title", "publisher", "document_id", "doc_date", "retrieved", "kind", "sha256"},
        "rules": {"id", "payer_id", "topic", "setting", "requirement", "summary", "threshold_usd",
                  "pricing_basis", "percent", "claim_field", "max_chars", "unit_rule", "effective_from",
                  "effective_to", "as_of", "status", "origin"},
        "rule_codes": {"rule_id", "code"},
        "rule_sources": {"rule_id", "source_id", "locator"},
    }.items():
        assert columns <= set(db[table].columns_dict), table
    assert {"payer_matrix", "j3590_rules", "stale_sources"} <= set(db.view_names())


def test_keys_and_indexes(built_db):
    db = sqlite_utils.Database(built_db)
    assert db["rules"].pks == ["id"]
    assert {(fk.column, fk.other_table) for fk in db["rules"].foreign_keys} == {("payer_id", "payers")}
    assert {(fk.column, fk.other_table) for fk in db["rule_sources"].foreign_keys} == {
        ("rule_id", "rules"), ("source_id", "sources")}
    indexed = {tuple(i.columns) for i in db["rules"].indexes}
    assert ("payer_id",) in indexed and ("topic",) in indexed
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_every_payer_has_every_topic(built_db):
    db = sqlite_utils.Database(built_db)
    n_payers = db["payers"].count
    rows = db.execute("select count(distinct payer_id || topic) from rules where origin != 'scraped'").fetchone()
    assert rows[0] == n_payers * len(TOPICS)
    gap = db.execute("select requirement, status from rules where origin = 'gap' limit 1").fetchone()
    assert gap == ("unknown", "unconfirmed")


def test_every_non_gap_rule_is_sourced_or_says_unconfirmed(built_db):
    db = sqlite_utils.Database(built_db)
    bad = db.execute(
        "select id from rules where origin != 'gap' and source_count = 0 and status != 'unconfirmed'"
    ).fetchall()
    assert bad == []


def test_fts_uses_porter_stemming(built_db):
    db = sqlite_utils.Database(built_db)
    assert "porter" in db["rules_fts"].schema
    # "rejected" in a summary is found by "rejects" thanks to stemming
    hits = [r["id"] for r in db["rules"].search("rejects")]
    assert any("narrative" in h for h in hits)


def test_group_rules_apply_to_each_jurisdiction(built_db):
    db = sqlite_utils.Database(built_db)
    ids = {r[0] for r in db.execute("select payer_id from rules where group_id = 'palmetto-gba'")}
    assert {"medicare-palmetto-jj", "medicare-palmetto-jm"} <= ids


def test_as_of_defaults_to_newest_source_date(built_db):
    db = sqlite_utils.Database(built_db)
    row = db["rules"].get("medicare-cms--modifiers-jw-jz")
    assert row["as_of"] == "2023-12-18"
    assert json.loads(row["modifiers"]) == ["JW", "JZ"]


@pytest.mark.slow
def test_failed_build_leaves_previous_database(tmp_path, policies_copy):
    out = tmp_path / "payerkb.db"
    build(policies_copy, out)
    before = sha(out)
    bad = policies_copy / "payers" / "medicare-cms.yml"
    bad.write_text(bad.read_text().replace("payer_type: medicare_national", "payer_type: medicare_natinal"))
    with pytest.raises(BuildError) as err:
        build(policies_copy, out)
    assert any("medicare-cms.yml:4:" in str(p) for p in err.value.problems)
    assert sha(out) == before
    assert list(tmp_path.glob("payerkb.db.tmp-*")) == []


@pytest.mark.slow
def test_failing_step_leaves_previous_database(tmp_path):
    out = tmp_path / "payerkb.db"
    build("policies", out)
    before = sha(out)

    def broken_step(db, kb, path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        build("policies", out, extra_steps=[broken_step])
    assert sha(out) == before
    assert sqlite_utils.Database(out)["payers"].count > 0


@pytest.mark.slow
def test_cli_build_prints_summary_and_fails_cleanly(tmp_path, policies_copy):
    out = tmp_path / "kb.db"
    ok = CliRunner().invoke(cli, ["build", "--policies", str(policies_copy), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"built {out}: ") and " payers, " in ok.output and " sources in " in ok.output
    before = sha(out)
    (policies_copy / "payers" / "medicare-cms.yml").write_text("id: medicare-cms\nname: [unclosed\n")
    bad = CliRunner().invoke(cli, ["build", "--policies", str(policies_copy), "--out", str(out)])
    assert bad.exit_code == 1
    assert "medicare-cms.yml:2: YAML syntax error" in bad.output
    assert "the database was not changed" in bad.output
    assert sha(out) == before


@pytest.mark.slow
def test_build_cleans_leftovers_of_dead_builds_but_not_of_running_ones(tmp_path):
    import subprocess

    out = tmp_path / "payerkb.db"
    dead = subprocess.Popen(["true"])
    dead.wait()
    running = subprocess.Popen(["sleep", "30"])
    try:
        dead_tmp = tmp_path / f"payerkb.db.tmp-{dead.pid}"
        live_tmp = tmp_path / f"payerkb.db.tmp-{running.pid}"
        dead_tmp.write_bytes(b"half a database")
        live_tmp.write_bytes(b"another build at work")
        build("policies", out)
        assert not dead_tmp.exists()
        assert live_tmp.read_bytes() == b"another build at work"
    finally:
        running.kill()
        running.wait()
