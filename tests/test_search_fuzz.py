"""Fuzzing: whatever text arrives, search answers (no exception, no HTTP error)."""
from __future__ import annotations

import pytest

import asyncio
import sqlite3
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings, strategies as st

from payerkb.fts import fts5_match
from payerkb.search import search

pytestmark = pytest.mark.fuzz

FTS_SYNTAX = st.sampled_from(['"', "'", "(", ")", "*", "-", "+", ":", "^", "{", "}", "AND", "OR", "NOT",
                              "NEAR", "NEAR(", ",", ".", "\\", "\x00", "\ue000", "\ud800", " ", "  "])
WORDS = st.sampled_from(["invoice", "precert", "blue cross", "texas", "J3590", "jj", "palmeto", "IN", "pa",
                         "wac", "106%", "$500", "item 19", "sv101-7", "medi-cal"])
TEXT = st.lists(st.one_of(st.text(max_size=12), FTS_SYNTAX, WORDS), max_size=10).map("".join)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(TEXT)
def test_fts_escaper_output_is_always_valid_fts5(text):
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(a, tokenize='porter')")
    conn.execute("insert into t values ('invoice for J3590 prior authorization')")
    conn.execute("select count(*) from t where t match ?", (fts5_match(text),)).fetchone()


@SETTINGS
@given(TEXT)
def test_smart_search_never_raises(built_db, text):
    answer = search(text, built_db, limit=5)
    assert answer["available"] and isinstance(answer["hits"], list)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT, st.sampled_from(["", "q", "topic", "state", "limit", "code", "payer_type"]))
def test_web_endpoints_never_fail(ds, text, extra):
    async def run():
        params = {"q": text.replace("\ud800", "")}
        if extra:
            params[extra] = text.replace("\ud800", "")
        qs = urlencode(params)
        for path in (f"/-/search.json?{qs}", f"/payerkb/search.json?_shape=array&{qs}",
                     f"/payerkb/rules.json?_size=1&{urlencode({'_search': params['q']})}"):
            r = await ds.client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
    asyncio.run(run())
