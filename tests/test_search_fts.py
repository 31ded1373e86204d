"""The FTS5 side: payerkb.fts escaping, the `search` canned query and safe `?_search=` on tables."""
from __future__ import annotations

import sqlite3

import pytest

from payerkb.fts import fts5_match, fts5_query, mark_snippet


@pytest.mark.parametrize("text, expected", [
    ("invoice palmetto", '"invoice" OR "palmetto"'),
    ('"blue cross" texas', '"blue cross" OR "texas"'),
    ("invoic*", '"invoic"*'),
    ("invoice -medicare", '("invoice") NOT "medicare"'),
    ("invoice NOT medicare", '("invoice") NOT "medicare"'),
    ("sv101-7", '"sv101 7"'),
    ("a AND b OR c", '"a" OR "b" OR "c"'),
    ('"unbalanced quote', '"unbalanced" OR "quote"'),
])
def test_queries_keep_their_meaning(text, expected):
    assert fts5_query(text) == expected


@pytest.mark.parametrize("text", ["", "   ", '"', '""', "AND", "OR NOT", "(", ")", "-", "*", "-invoice", "\x00", None])
def test_nothing_searchable_gives_none(text):
    assert fts5_query(text) is None
    assert fts5_match(text) == '""'


@pytest.fixture(scope="module")
def fts_conn():
    conn = sqlite3.connect(":memory:")
    conn.create_function("payerkb_fts", 1, fts5_match)
    conn.execute("create virtual table t using fts5(body, tokenize='porter')")
    conn.executemany("insert into t values (?)", [("Invoices are needed above $500",),
                                                  ("Prior authorization for J3590",), ("C++ o'brien (test)",)])
    return conn


@pytest.mark.parametrize("text", ['"', "((", "AND OR", "NEAR(a b)", "body:x", "o'brien", "C++", "-", "a*b*",
                                  "\x00\x01", "😀 é", '"a" "" "b', "^x", "{body}: x", "'; drop table t; --"])
def test_anything_typed_runs_without_error(fts_conn, text):
    fts_conn.execute("select count(*) from t where t match payerkb_fts(?)", (text,)).fetchone()


def test_stemming_prefix_and_exclusion_work(fts_conn):
    def count(q):
        return fts_conn.execute("select count(*) from t where t match payerkb_fts(?)", (q,)).fetchone()[0]
    # FTS5 matches a prefix against stems: "author*" finds authorization, "authoriz*" would not
    assert count("invoice") == 1 and count("author*") == 1 and count("j3590 -prior") == 0
    assert count("invoice authorization") == 2


def test_snippet_marks_are_escaped_first():
    assert str(mark_snippet("«<b>»invoice & co")) == "<mark>&lt;b&gt;</mark>invoice &amp; co"


@pytest.mark.asyncio
async def test_canned_search_ranks_and_marks(ds):
    r = await ds.client.get("/payerkb/search.json?_shape=array&q=palmetto+invoice")
    assert r.status_code == 200
    rows = r.json()
    assert rows and {"kind", "id", "payer_id", "name", "topic", "snippet", "score"} <= set(rows[0])
    assert [row["score"] for row in rows] == sorted(row["score"] for row in rows)
    assert any(row["kind"] == "rule" and row["payer_id"].startswith("medicare-palmetto") for row in rows[:5])
    assert any("«" in row["snippet"] for row in rows)
    page = await ds.client.get("/payerkb/search?q=palmetto+invoice")
    assert page.status_code == 200 and "<mark>" in page.text
    assert 'href="/payerkb/rules/' in page.text


@pytest.mark.asyncio
@pytest.mark.parametrize("q", ["", "%20", "%22", "AND", "((", "-", "%00", "NEAR(", "title%3Ax"])
async def test_canned_search_never_errors(ds, q):
    r = await ds.client.get(f"/payerkb/search.json?_shape=array&q={q}")
    assert r.status_code == 200, r.text[:300]
    page = await ds.client.get(f"/payerkb/search?q={q}")
    assert page.status_code == 200


@pytest.mark.asyncio
async def test_canned_search_with_empty_query_says_what_to_type(ds):
    page = await ds.client.get("/payerkb/search?q=")
    assert "Type words to search for" in page.text and 'href="/-/search"' in page.text
    r = await ds.client.get("/payerkb/search.json?_shape=array&q=")
    assert r.json() == []


@pytest.mark.asyncio
@pytest.mark.parametrize("qs", ["_search=", "_search=%20", "_search=%22", "_search=%00", "_search_summary=%22"])
async def test_table_search_box_never_errors(ds, qs):
    r = await ds.client.get(f"/payerkb/rules.json?_shape=array&_size=5&{qs}")
    assert r.status_code == 200, r.text[:300]
    page = await ds.client.get(f"/payerkb/rules?_size=5&{qs}")
    assert page.status_code == 200


@pytest.mark.asyncio
async def test_table_search_still_searches(ds):
    r = await ds.client.get("/payerkb/rules.json?_shape=array&_search=%22invoices")
    rows = r.json()
    assert rows and all("invoice" in (row["summary"] + (row["note"] or "")).lower() for row in rows)
