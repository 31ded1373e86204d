""""As of" is the source's own date (issue 13): a rule whose sources show no date says
"undated, read <date>", and the home page's freshness counts dated facts only."""
from __future__ import annotations

import sqlite3

import pytest


def _first(built_db, sql):
    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    return conn.execute(sql).fetchone()


@pytest.mark.asyncio
async def test_an_undated_rule_says_undated_read_not_as_of(ds, built_db):
    row = _first(built_db, "select r.id, r.payer_id, r.as_of from rules r where r.as_of_undated = 1 "
                           "and r.origin = 'manual' and r.status = 'sourced' order by r.id limit 1")
    assert row is not None
    dated = sqlite3.connect(built_db).execute(
        "select count(*) from rule_sources rs join sources s on s.id = rs.source_id "
        "where rs.rule_id = ? and s.doc_date is not null", [row["id"]]).fetchone()[0]
    assert dated == 0  # none of its sources shows a date
    page = await ds.client.get(f"/-/payers/{row['payer_id']}")
    assert page.status_code == 200
    assert f"Undated, read {row['as_of']}." in page.text


@pytest.mark.asyncio
async def test_a_dated_rule_says_as_of_its_sources_date(ds, built_db):
    row = _first(built_db, "select id, payer_id, as_of from rules where id = 'anthem-georgia--ndc'")
    assert row["as_of"] and not _first(built_db, "select as_of_undated from rules where id = 'anthem-georgia--ndc'")[0]
    page = await ds.client.get("/-/payers/anthem-georgia")
    assert f"As of {row['as_of']}." in page.text


@pytest.mark.asyncio
async def test_home_freshness_counts_dated_facts_only(ds, built_db):
    newest = sqlite3.connect(built_db).execute(
        "select max(as_of) from rules where origin != 'gap' and not as_of_undated").fetchone()[0]
    home = (await ds.client.get("/-/home.json")).json()
    assert home["freshness"]["newest_as_of"] == newest
    with_read_dates = sqlite3.connect(built_db).execute(
        "select max(as_of) from rules where origin != 'gap'").fetchone()[0]
    assert with_read_dates >= newest  # reading dates (today, for many undated pages) are left out
