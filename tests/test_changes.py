"""The `changes` table: rule diffs between builds (kept across rebuilds), dates, changed pages."""
from __future__ import annotations

import json
import sqlite3

import pytest
import responses
import sqlite_utils

from db import changes as changes_step, scraped_tables
from db.build import BuildError, build as full_build
from scrapers import registry
from scrapers.run import make_fetcher, run

PALMETTO = registry.get("palmetto-gba")


def build(policies, out):
    """The build with only the steps the changes table needs (no CMS tables, no search index)."""
    return full_build(policies, out, extra_steps=[scraped_tables.load_scraped_tables, changes_step.record_changes])


def changes(db_path, kind=None):
    db = sqlite_utils.Database(db_path)
    sql = "select * from changes" + (" where kind = ?" if kind else "") + " order by rowid"
    return list(db.query(sql, [kind] if kind else []))


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_first_build_has_dates_but_no_rule_diffs(policies_copy, tmp_path):
    out = build(policies_copy, tmp_path / "kb.db").path
    rows = changes(out)
    assert not [r for r in rows if r["kind"] in ("rule_added", "rule_changed", "rule_removed")]
    db = sqlite_utils.Database(out)
    dated = db.execute("select count(*) from sources where doc_date is not null").fetchone()[0]
    assert len(changes(out, "source_dated")) == dated
    effective = db.execute("select count(*) from rules where effective_from is not null and origin != 'gap'").fetchone()[0]
    assert len(changes(out, "rule_effective")) == effective
    stamps = [r["changed_at"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first


@pytest.mark.slow
def test_rule_edits_show_up_and_history_survives_rebuilds(policies_copy, tmp_path):
    out = tmp_path / "kb.db"
    build(policies_copy, out)
    group = policies_copy / "groups" / "palmetto-gba.yml"
    text = group.read_text()
    assert "  - id: pricing-professional\n" in text
    edit(group, "  - id: pricing-professional\n", "  - id: pricing-professional-renamed\n")
    build(policies_copy, out)
    added = changes(out, "rule_added")
    removed = changes(out, "rule_removed")
    assert "medicare-palmetto-jj--pricing-professional-renamed" in {r["rule_id"] for r in added}
    assert "medicare-palmetto-jj--pricing-professional" in {r["rule_id"] for r in removed}
    assert all(r["url"] for r in added)

    first_ids = {r["id"] for r in changes(out) if r["kind"] in ("rule_added", "rule_removed")}
    build(policies_copy, out)  # nothing changed: the history is carried, not doubled
    assert {r["id"] for r in changes(out) if r["kind"] in ("rule_added", "rule_removed")} == first_ids


@pytest.mark.slow
def test_a_changed_value_is_described_old_to_new(policies_copy, tmp_path):
    out = tmp_path / "kb.db"
    build(policies_copy, out)
    db = sqlite_utils.Database(out)
    rule = next(db.query("select id, file, line, status from rules where origin = 'manual' and status = 'sourced' "
                         "and group_id is null and file like '%payers/%' limit 1"))
    db.close()
    path = policies_copy / rule["file"].rsplit("policies/", 1)[1]
    lines = path.read_text().splitlines(keepends=True)
    for i in range(rule["line"] - 1, len(lines)):
        if lines[i].strip().startswith("status: sourced"):
            lines[i] = lines[i].replace("status: sourced", "status: superseded")
            break
    path.write_text("".join(lines))
    build(policies_copy, out)
    changed = [r for r in changes(out, "rule_changed") if r["rule_id"] == rule["id"]]
    assert changed and "status: sourced -> superseded" in changed[0]["detail"]
    assert {"field": "status", "old": "sourced", "new": "superseded"} in json.loads(changed[0]["fields"])


@pytest.mark.slow
def test_a_list_field_is_told_as_what_was_added_and_removed(policies_copy, tmp_path):
    """A rule that drops a code: both lists, old and new, in fields; detail names what went."""
    out = tmp_path / "kb.db"
    build(policies_copy, out)
    db = sqlite_utils.Database(out)
    rule = next(db.query(
        "select r.id, r.file, r.line, r.codes from rules r where r.origin = 'manual' and r.group_id is null "
        "and r.file like '%payers/%' and r.codes = '[\"C9399\", \"J3490\", \"J3590\", \"J9999\"]' order by r.id limit 1"))
    db.close()
    path = policies_copy / rule["file"].rsplit("policies/", 1)[1]
    lines = path.read_text().splitlines(keepends=True)
    for i in range(rule["line"] - 1, len(lines)):
        if lines[i].strip().startswith("codes:"):
            assert "J3490" in lines[i], lines[i]
            lines[i] = lines[i].split("codes:")[0] + "codes: [C9399, J3590, J9999]\n"
            break
    path.write_text("".join(lines))
    build(policies_copy, out)
    [changed] = [r for r in changes(out, "rule_changed") if r["rule_id"] == rule["id"]]
    assert json.loads(changed["fields"]) == [
        {"field": "codes", "old": ["C9399", "J3490", "J3590", "J9999"], "new": ["C9399", "J3590", "J9999"]}]
    assert changed["detail"] == "codes: removed J3490"


def test_a_changed_page_shows_up_after_a_rebuild(policies_copy, tmp_path):
    scraped = policies_copy / "scraped"
    page = PALMETTO.pages[1]
    for percent in ("106", "103"):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as web:
            web.get("https://www.palmettogba.com/robots.txt", status=404)
            for p in PALMETTO.pages:
                body = (registry.FIXTURES / p.fixture).read_text()
                if p is page:
                    body = body.replace("95 percent", f"{percent} percent")
                web.get(p.url, body=body, content_type="text/html")
            fetcher = make_fetcher(offline=False, out_dir=scraped, cache_dir=tmp_path / "cache",
                                   sleep=lambda s: None, min_interval=0)
            reports = run(["palmetto-gba"], out_dir=scraped, policies_dir=policies_copy, fetcher=fetcher)
            assert reports[0].ok, reports[0].message
    out = build(policies_copy, tmp_path / "kb.db").path
    pages = changes(out, "page_changed")
    assert [r["url"] for r in pages] == [page.url]
    assert pages[0]["source_id"] == "scraped-palmetto-gba-jjb-by6rtu8205"
    assert pages[0]["payer_id"] == "medicare-palmetto-jj"


@pytest.mark.slow
def test_change_ids_are_stable_across_builds(policies_copy, tmp_path):
    a = {r["id"] for r in changes(build(policies_copy, tmp_path / "a.db").path)}
    b = {r["id"] for r in changes(build(policies_copy, tmp_path / "b.db").path)}
    assert a == b and len(a) == len(changes(tmp_path / "a.db"))


def test_an_unreadable_previous_database_stops_the_build_and_stays(policies_copy, tmp_path):
    out = tmp_path / "kb.db"
    out.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(BuildError, match="move it aside"):
        build(policies_copy, out)
    assert out.read_bytes().startswith(b"this is not a sqlite database")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(out).execute("select 1 from sqlite_master").fetchall()
