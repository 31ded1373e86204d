"""Relevance: queries billing staff type (tests/fixtures/relevance_queries.yml), each with the
rules that must come up in the top 5 of the smart search; and the smart search against the plain
FTS5 `search` canned query on the synonym and typo queries, where it must do better.
docs/benchmarks.md reports the same measures (benchmarks/bench_search.py)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from payerkb.search import search

QUERIES = yaml.safe_load((Path(__file__).parent / "fixtures" / "relevance_queries.yml").read_text())["queries"]


def expected(item) -> list[tuple[str, str]]:
    return [tuple(e.split(":")) for e in item["expect"]]


def first_rank(found: list[set[tuple[str, str]]], wanted: list[tuple[str, str]]) -> int | None:
    return next((i for i, pairs in enumerate(found, 1) if pairs & set(wanted)), None)


def mrr(ranks) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks)


def whoosh_pairs(db, q) -> list[set[tuple[str, str]]]:
    """(payer, topic) pairs per hit, best first: a rule several payers share is one hit."""
    return [{(p["payer_id"], h["topic"]) for p in h["payers"]} for h in search(q, db, limit=10)["hits"]]


async def fts_pairs(ds, q) -> list[set[tuple[str, str]]]:
    r = await ds.client.get("/payerkb/search.json?_shape=array&" + urlencode({"q": q}))
    assert r.status_code == 200
    return [{(row["payer_id"], row["topic"])} for row in r.json() if row["kind"] == "rule"][:10]


def test_the_suite_is_broad_enough():
    kinds = {item["kind"] for item in QUERIES}
    assert len(QUERIES) >= 30 and {"synonym", "typo", "place", "plain"} <= kinds


@pytest.mark.parametrize("item", QUERIES, ids=[item["q"] for item in QUERIES])
def test_expected_rules_are_in_the_top_5(built_db, item):
    found = set().union(*whoosh_pairs(built_db, item["q"])[:5])
    missing = [pair for pair in expected(item) if pair not in found]
    assert not missing, f"{item['q']!r}: {missing} not in the top 5 {found}"


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["synonym", "typo"])
async def test_smart_search_beats_fts5_on(ds, built_db, kind):
    items = [item for item in QUERIES if item["kind"] == kind]
    smart = [first_rank(whoosh_pairs(built_db, item["q"]), expected(item)) for item in items]
    fts = [first_rank(await fts_pairs(ds, item["q"]), expected(item)) for item in items]
    assert mrr(smart) > mrr(fts), (kind, smart, fts)
