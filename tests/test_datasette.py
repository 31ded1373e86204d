"""Datasette with metadata.yml and the payerkb plugin, through its test client."""
from __future__ import annotations

import pytest


@pytest.mark.asyncio
async def test_home_and_database_pages(ds):
    home = await ds.client.get("/")
    assert home.status_code == 200 and "payerkb" in home.text
    db_page = await ds.client.get("/payerkb")
    assert db_page.status_code == 200
    assert "A payer&#39;s rules for a code" in db_page.text or "A payer's rules for a code" in db_page.text


@pytest.mark.asyncio
async def test_payers_json_array(ds):
    r = await ds.client.get("/payerkb/payers.json?_shape=array&_size=max")
    assert r.status_code == 200
    payers = r.json()
    assert {"id", "name", "payer_type", "states"} <= set(payers[0])
    assert "medicare-palmetto-jj" in {p["id"] for p in payers}


@pytest.mark.asyncio
async def test_table_row_and_search(ds):
    table = await ds.client.get("/payerkb/rules")
    assert table.status_code == 200
    row = await ds.client.get("/payerkb/rules/medicare-palmetto-jj--narrative-professional.json?_shape=array")
    assert row.status_code == 200
    assert row.json()[0]["topic"] == "narrative"
    found = await ds.client.get("/payerkb/rules.json?_search=invoices&_shape=array")
    assert found.status_code == 200
    assert found.json(), "stemmed search for 'invoices' found nothing"
    assert all("invoice" in (r["summary"] + (r["note"] or "")).lower() for r in found.json())


@pytest.mark.asyncio
async def test_column_descriptions_for_every_table(ds, metadata, built_db):
    import sqlite_utils

    db = sqlite_utils.Database(built_db)
    tables = metadata["databases"]["payerkb"]["tables"]
    for name in db.table_names():
        if name.endswith(("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")) or name.startswith("sqlite_"):
            continue
        assert name in tables, f"table {name} has no metadata"
        assert tables[name].get("description"), name
        missing = set(db[name].columns_dict) - set(tables[name].get("columns", {}))
        assert not missing, f"{name}: no description for {sorted(missing)}"
    for view in db.view_names():
        assert tables.get(view, {}).get("description"), f"view {view} has no description"


CANNED_EXAMPLES = {
    "search": {"q": "invoice palmetto"},
    "rules_for_payer_and_code": {"payer": "medicare-palmetto-jj", "code": "j3590"},
    "invoice_required_by_threshold": {"code": ""},
    "prior_auth_for_code": {"code": "J3590"},
    "pricing_basis_by_payer_type": {"payer_type": "", "basis": "wac"},
    "conflicting_or_unconfirmed": {"status": ""},
    "sources_older_than": {"days": "1095"},
    "coverage": {"payer_type": ""},
    "hcpcs_for_ndc": {"ndc": "00270-7015-46"},
}


@pytest.mark.asyncio
async def test_every_canned_query_is_described_and_runs(ds, metadata):
    queries = metadata["databases"]["payerkb"]["queries"]
    assert len(queries) >= 6
    for name, query in queries.items():
        assert query.get("title") and query.get("description"), name
        params = CANNED_EXAMPLES.get(name, {})
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        r = await ds.client.get(f"/payerkb/{name}.json?_shape=array&{qs}")
        assert r.status_code == 200, (name, r.text[:300])
        assert isinstance(r.json(), list)


@pytest.mark.asyncio
async def test_rules_for_payer_and_code_answers_with_sources(ds):
    r = await ds.client.get("/payerkb/rules_for_payer_and_code.json?_shape=array&payer=medicare-palmetto-jj&code=J3590")
    rows = r.json()
    topics = {row["topic"] for row in rows}
    assert {"narrative", "pricing", "modifiers"} <= topics
    narrative = next(row for row in rows if row["topic"] == "narrative" and row["setting"] == "professional")
    assert "palmettogba.com" in narrative["source_urls"]


@pytest.mark.asyncio
async def test_pricing_at_percent_of_wac_is_queryable(ds):
    r = await ds.client.get("/payerkb/pricing_basis_by_payer_type.json?_shape=array&payer_type=&basis=wac")
    rows = r.json()
    assert rows and all(row["pricing_basis"] == "wac" for row in rows)


# --- Datasette's own pages of payerkb's tables (payerkb/web/cells.py, metadata.yml) ----------------

def _cell(html: str, column: str) -> str:
    import re

    match = re.search(rf'<td class="col-{column}[^"]*"[^>]*>(.*?)</td>', html, re.S)
    assert match, f"no {column} cell"
    return match.group(1)


@pytest.mark.asyncio
async def test_rules_table_shows_codes_compactly(ds, built_db):
    import json
    import sqlite3

    conn = sqlite3.connect(built_db)
    rid, codes = conn.execute("select id, codes from rules where json_array_length(codes) > 10 order by id limit 1").fetchone()
    codes = json.loads(codes)
    page = (await ds.client.get(f"/payerkb/rules?id={rid}")).text
    cell = _cell(page, "codes")
    assert "[&#34;" not in cell and '["' not in cell and "&quot;" not in cell  # no JSON in the cell
    assert f"<summary>{', '.join(codes[:3])} and {len(codes) - 3} more</summary>" in cell
    assert ", ".join(codes) in cell  # every code, one line, inside the folded list
    short_id, short = conn.execute("select id, codes from rules where json_array_length(codes) = 2 limit 1").fetchone()
    row = (await ds.client.get(f"/payerkb/rules/{short_id}")).text
    assert _cell(row, "codes").strip() == ", ".join(json.loads(short))
    # the JSON twin keeps the stored value
    data = (await ds.client.get(f"/payerkb/rules/{short_id}.json?_shape=array")).json()
    assert data[0]["codes"] == short


@pytest.mark.asyncio
async def test_rule_row_page_links_to_the_payerkb_payer_page(ds):
    page = (await ds.client.get("/payerkb/rules/medicare-palmetto-jj--narrative-professional")).text
    cell = _cell(page, "payer_id")
    assert 'href="/-/payers/medicare-palmetto-jj"' in cell and 'href="/payerkb/payers/medicare-palmetto-jj"' in cell
    assert (await ds.client.get("/-/payers/medicare-palmetto-jj")).status_code == 200
    table = (await ds.client.get("/payerkb/rules?payer_id=medicare-palmetto-jj&_size=1")).text
    assert 'href="/-/payers/medicare-palmetto-jj"' in _cell(table, "payer_id")


@pytest.mark.asyncio
async def test_empty_tables_say_why_they_are_empty(ds, built_db, metadata):
    import sqlite_utils

    db = sqlite_utils.Database(built_db)
    tables = metadata["databases"]["payerkb"]["tables"]
    empty = [t for t in db.table_names() if not t.endswith(("_fts", "_fts_data", "_fts_idx", "_fts_docsize",
                                                              "_fts_config")) and db[t].count == 0]
    for name in empty:
        description = tables[name]["description"]
        assert "Empty until" in description or "Empty while" in description or "Empty when" in description, name
        page = (await ds.client.get(f"/payerkb/{name}")).text
        assert description.split("Empty")[1][:40] in page.replace("&#39;", "'").replace("&#96;", "`"), name
