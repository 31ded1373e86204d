"""Smart search (payerkb.search, db/search_index.py): what a billing specialist types, and what
comes back through Python, /-/search.json, /-/search and `payerkb search`."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from db.build import BuildError
from db.search_index import build_search_index, forget, index_path, read_build_id
from payerkb.cli import cli
from payerkb.search import search, snippet_html


def pairs(answer) -> list[tuple[str, str]]:
    return [(h["payer_id"], h["topic"]) for h in answer["hits"]]


@pytest.fixture()
def private_db(built_db, tmp_path) -> Path:
    """A copy of the built database with its own index, for tests that break things."""
    db = tmp_path / "payerkb.db"
    shutil.copy(built_db, db)
    build_search_index(db)
    yield db
    forget(db)


# --- what people type -------------------------------------------------------------------------


def test_billing_synonyms_find_rules_written_in_other_words(built_db):
    answer = search("precert", built_db, limit=10)
    assert answer["hits"], answer["message"]
    assert all(h["topic"] == "prior_auth" for h in answer["hits"][:5])
    assert "prior authorization" in answer["expanded"]["precert"]


def test_a_misspelt_word_is_corrected_and_offered_back(built_db):
    answer = search("invoce", built_db, limit=5)
    assert answer["suggestion"] == "invoice"
    assert answer["hits"] and all(h["topic"] in ("invoice", "pricing") for h in answer["hits"])


def test_known_words_get_no_suggestion(built_db):
    assert search("invoice palmetto", built_db)["suggestion"] is None


def test_state_name_finds_the_mac_that_covers_it(built_db):
    answer = search("alabama narrative", built_db, limit=5)
    assert ("medicare-palmetto-jj", "narrative") in pairs(answer)


def test_jurisdiction_spoken_form_finds_the_mac(built_db):
    answer = search("jurisdiction j narrative", built_db, limit=5)
    assert {p for p, _ in pairs(answer)} >= {"medicare-palmetto-jj"}


def test_payer_and_topic_words_outrank_body_text(built_db):
    top = search("palmetto pricing", built_db, limit=3)["hits"][0]
    assert top["payer_id"].startswith("medicare-palmetto") and top["topic"] == "pricing"


def test_quoted_phrase_excluded_word_and_prefix(built_db):
    phrase = search('"single-dose containers"', built_db, limit=20)
    assert phrase["hits"] and all("single-dose container" in h["summary"] for h in phrase["hits"])
    excluded = search("invoice -medicare", built_db, limit=50)
    assert excluded["hits"] and not any("medicare" in h["payer_type"] for h in excluded["hits"])
    prefix = search("authoriz*", built_db, limit=5)
    assert "prior_auth" in [h["topic"] for h in prefix["hits"]]
    assert any("<mark>authoriz" in h["snippet"].lower() for h in prefix["hits"])


def test_gaps_are_one_line_per_payer_after_the_rules(built_db):
    answer = search("prior auth j3590 aetna", built_db)
    assert answer["hits"][0]["payer_id"] == "aetna" and answer["hits"][0]["topic"] == "prior_auth"
    assert all(h["origin"] != "gap" for h in answer["hits"])  # no gap row among the answers
    assert answer["gaps"] == []  # Aetna's prior auth is sourced; its other gaps match less
    medicaid = search("prior auth j3590 medicaid", built_db)
    payers = [g["payer_id"] for g in medicaid["gaps"]]
    assert payers and len(payers) == len(set(payers))  # one line per payer
    # listed gaps match as much of the query as the best rule: prior auth gaps only
    assert {t for g in medicaid["gaps"] for t in g["topics"]} == {"prior_auth"}
    aetna = next(g for g in search("j3590 aetna", built_db)["gaps"] if g["payer_id"] == "aetna")
    assert len(aetna["topics"]) > 1 and len(aetna["rule_ids"]) == len(aetna["topics"])
    assert aetna["summary"].startswith("No source found yet for Aetna")
    assert medicaid["gap_total"] >= sum(len(g["rule_ids"]) for g in medicaid["gaps"])


def test_only_gaps_matching_says_so(built_db):
    answer = search("oscar", built_db)
    assert not answer["hits"] and [g["payer_id"] for g in answer["gaps"]] == ["oscar"]
    assert "no source found yet" in answer["message"]
    # other payers' documentation rules answer part of the words; the message says why
    partly = search("ambetter documentation", built_db)
    assert partly["hits"] and partly["gaps"][0]["payer_id"].startswith("ambetter")
    assert "Ambetter" in partly["message"] and "no source found yet" in partly["message"]


def test_a_sourced_rule_ranks_above_an_unconfirmed_one_for_the_same_words(built_db):
    hits = search("narrative", built_db, limit=100)["hits"]
    footing = ["unconfirmed" if h["status"] in ("unconfirmed", "superseded") else "sourced" for h in hits]
    assert "sourced" in footing and "unconfirmed" in footing
    assert footing == sorted(footing, key=lambda f: f != "sourced")


def test_a_rule_shared_by_contractors_is_one_hit_listing_them(built_db):
    hits = search("c9399 ambulatory surgical center", built_db, limit=50)["hits"]
    shared = [h for h in hits if len(h["payers"]) > 1]
    assert shared and max(len(h["payers"]) for h in shared) >= 12
    first = shared[0]
    assert first["payers"][0]["payer_id"] == first["payer_id"] and len(first["rule_ids"]) == len(first["payers"])
    keys = [(h["topic"], h["summary"], h["requirement"], h["status"], h["setting"]) for h in hits]
    assert len(keys) == len(set(keys))


def test_facet_values_come_with_words(built_db):
    answer = search("ndc", built_db)
    assert answer["facet_labels"]["payer_type"]["medicare_mac"] == "Medicare contractor (MAC)"
    assert answer["facet_labels"]["topic"]["ndc"] == "NDC"
    assert set(answer["facet_labels"]["state"]) == set(answer["facets"]["state"])
    assert answer["facet_labels"]["state"].get("TX") == "Texas"


def test_a_query_cut_for_length_says_so(built_db):
    long = search("invoice " * 200, built_db)
    assert "cut to its first 1,000 characters" in long["message"]
    many = search(" ".join(f"word{i}" for i in range(30)) + " invoice", built_db)
    assert "Only the first 24 terms" in many["message"]
    assert search("invoice", built_db)["message"] is None


# --- filters and facets -----------------------------------------------------------------------


def test_filters_narrow_and_facets_count_every_match(built_db):
    answer = search("ndc", built_db, payer_type="medicaid_ffs", limit=100)
    assert answer["hits"] and all(h["payer_type"] == "medicaid_ffs" for h in answer["hits"])
    assert answer["facets"]["payer_type"] == {"medicaid_ffs": answer["total"]}
    assert sum(answer["facets"]["topic"].values()) == answer["total"]
    texas = search("ndc", built_db, state="texas", limit=100)
    assert texas["filters"] == {"state": "TX"}
    assert texas["hits"] and all("TX" in h["states"] for h in texas["hits"])
    coded = search("", built_db, code="j3590", topic="narrative", limit=100)
    assert coded["hits"] and all(h["topic"] == "narrative" and "J3590" in h["codes"] for h in coded["hits"])
    # a rule several payers share word for word is one hit listing them all
    assert sum(len(h["rule_ids"]) for h in coded["hits"]) == coded["total"]


@pytest.mark.parametrize("field, value", [("payer_type", "hmo"), ("topic", "billing"), ("code", "99213"),
                                          ("state", "Narnia")])
def test_a_bad_filter_is_named_in_the_message(built_db, field, value):
    answer = search("invoice", built_db, **{field: value})
    assert answer["hits"] == [] and answer["message"].startswith(field)


@pytest.mark.parametrize("limit", ["0", "abc", "1000", "-3"])
def test_a_bad_limit_falls_back_with_a_message(built_db, limit):
    answer = search("invoice", built_db, limit=limit)
    assert len(answer["hits"]) == 20 and "limit" in answer["message"]


@pytest.mark.parametrize("query", ["", "   ", '"', "AND", "((", "-", "*", "the of and"])
def test_nothing_searchable_says_what_to_type(built_db, query):
    answer = search(query, built_db)
    assert answer["hits"] == [] and answer["message"] and answer["available"]


# --- snippets ---------------------------------------------------------------------------------


def test_snippets_mark_matches_and_escape_text(built_db):
    hit = search("invoice", built_db, limit=1)["hits"][0]
    assert "<mark>" in hit["snippet"]
    assert snippet_html([("a <b>", False), ("<script>", True)]) == "a &lt;b&gt;<mark>&lt;script&gt;</mark>"


# --- a missing or damaged index ---------------------------------------------------------------


@pytest.mark.slow
def test_missing_index_gives_a_message_and_build_brings_it_back(private_db):
    shutil.rmtree(index_path(private_db))
    forget(private_db)
    answer = search("invoice", private_db)
    assert not answer["available"] and "payerkb build" in answer["message"]
    build_search_index(private_db)
    assert search("invoice", private_db)["hits"]


def test_damaged_index_gives_a_message(private_db):
    for segment in index_path(private_db).glob("*.seg"):
        segment.write_bytes(b"not a segment")
    for toc in index_path(private_db).glob("*.toc"):
        toc.write_bytes(b"\x00garbage")
    forget(private_db)
    answer = search("invoice", private_db)
    assert not answer["available"] and "payerkb build" in answer["message"]


@pytest.mark.slow
def test_rebuild_swaps_the_index_in_whole(private_db):
    folder = index_path(private_db)
    before = search("invoice", private_db)["total"]
    build_search_index(private_db)
    assert sorted(p.name for p in private_db.parent.iterdir()) == ["payerkb.db", "payerkb.whoosh"]
    assert [p.name for p in folder.parent.iterdir()] == [read_build_id(private_db)]  # no temporary left
    assert search("invoice", private_db)["total"] == before


def test_failed_index_build_keeps_the_old_index(private_db):
    folder = index_path(private_db)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    good = private_db.read_bytes()
    private_db.write_bytes(b"not a database")
    with pytest.raises(BuildError, match="was not rebuilt"):
        build_search_index(private_db)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert not list(folder.parent.glob("*.tmp-*"))
    answer = search("invoice", private_db)  # an unreadable database is a message too
    assert not answer["available"] and answer["message"]
    private_db.write_bytes(good)
    assert search("invoice", private_db)["hits"]


def test_a_database_of_another_build_never_uses_this_index(private_db):
    """Search opens only the index filed under the build id the database carries."""
    conn = sqlite3.connect(private_db)
    conn.execute("update payerkb_build set build_id = 'another-build'")
    conn.commit()
    conn.close()
    answer = search("invoice", private_db)
    assert not answer["available"] and not answer["hits"] and "payerkb build" in answer["message"]


# --- the web ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_search_json_contract(ds):
    r = await ds.client.get("/-/search.json?q=invoce+threshold+medicaid&limit=3")
    assert r.status_code == 200
    body = r.json()
    assert {"query", "hits", "facets", "suggestion", "message"} <= set(body)
    assert set(body["facets"]) == {"payer_type", "topic", "code", "state"}
    assert body["suggestion"] == "invoice threshold medicaid"
    hit = body["hits"][0]
    assert {"payer_id", "payer_name", "rule_id", "topic", "snippet", "score"} <= set(hit)
    assert hit["payer_url"] == f"/-/payers/{hit['payer_id']}"
    row = await ds.client.get(hit["rule_url"] + ".json?_shape=array")
    assert row.status_code == 200 and row.json()[0]["id"] == hit["rule_id"]


@pytest.mark.asyncio
@pytest.mark.parametrize("qs", ["q=", "q=%22", "q=x&payer_type=nope", "q=x&limit=abc", "q=%00%ff(", "limit=5"])
async def test_search_json_never_errors(ds, qs):
    r = await ds.client.get(f"/-/search.json?{qs}")
    assert r.status_code == 200 and r.json()["message"]


@pytest.mark.asyncio
async def test_search_page(ds):
    r = await ds.client.get("/-/search?q=precert+blue+cross+texas")
    assert r.status_code == 200
    html = r.text
    assert '<label for="search-q">' in html and 'id="search-q"' in html
    assert "<mark>" in html and 'href="/-/payers/' in html and 'href="/payerkb/rules/' in html
    assert "topic=prior_auth" in html  # a facet link
    typo = await ds.client.get("/-/search?q=invoce")
    assert 'Did you mean <a href="/-/search?q=invoice">invoice</a>' in typo.text
    empty = await ds.client.get("/-/search")
    assert empty.status_code == 200 and "Type what you are looking for" in empty.text


@pytest.mark.asyncio
async def test_search_page_words_gaps_and_shared_rules(ds):
    html = (await ds.client.get("/-/search?q=c9399+ambulatory+surgical+center")).text
    assert ">Medicare contractor (MAC)</a>" in html and ">medicare_mac</a>" not in html  # facets in words
    assert "The same rule for" in html and html.count('class="pk-shared"') >= 1
    gaps = (await ds.client.get("/-/search?q=oscar")).text
    assert "No source found yet" in gaps and 'href="/-/payers/oscar"' in gaps
    assert gaps.index("No source found yet</h2>") > gaps.index("Search</h1>")


@pytest.mark.asyncio
async def test_search_page_escapes_the_query(ds):
    r = await ds.client.get("/-/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text


@pytest.mark.asyncio
async def test_search_is_linked_from_the_navigation(ds):
    r = await ds.client.get("/-/search")
    assert '<a href="/-/search">Search</a>' in r.text


# --- the terminal -----------------------------------------------------------------------------


def test_cli_search_prints_ranked_rules(built_db):
    result = CliRunner().invoke(cli, ["search", "--db", str(built_db), "-n", "3", "wastage", "palmetto"])
    assert result.exit_code == 0, result.output
    assert "1. " in result.output and "3. " in result.output and "4. " not in result.output
    assert "Palmetto" in result.output and "modifiers" in result.output


def test_cli_search_json_and_filters(built_db):
    result = CliRunner().invoke(cli, ["search", "--db", str(built_db), "--json", "--topic", "invoice", "invoce"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["suggestion"] == "invoice" and all(h["topic"] == "invoice" for h in body["hits"])


def test_cli_search_rejects_a_bad_filter(built_db):
    result = CliRunner().invoke(cli, ["search", "--db", str(built_db), "--state", "Narnia", "invoice"])
    assert result.exit_code == 2 and "state must be" in result.output


def test_cli_search_without_a_database_fails_clearly(tmp_path):
    result = CliRunner().invoke(cli, ["search", "--db", str(tmp_path / "none.db"), "invoice"])
    assert result.exit_code == 1 and "payerkb build" in result.output


# --- words that are also state codes, and synonyms the payers table gives -----------------------


def test_two_letter_words_mean_what_billing_staff_mean(built_db):
    # lower-case "pa" is prior authorization, not Pennsylvania
    pa = search("pa", built_db, limit=5)
    assert [h["topic"] for h in pa["hits"][:2]] == ["prior_auth", "prior_auth"]
    assert max(pa["facets"]["topic"], key=pa["facets"]["topic"].get) == "prior_auth"
    # "IN" in capitals is Indiana; lower-case "in" is a filler word
    assert search("IN medicaid", built_db, limit=1)["hits"][0]["payer_id"] == "medicaid-in"
    assert search("invoice in medicaid", built_db)["total"] == search("invoice medicaid", built_db)["total"]


def test_jurisdictions_and_medicaid_names_become_synonyms():
    import sqlite3

    from payerkb.search import Thesaurus, derived_groups, term_key

    conn = sqlite3.connect(":memory:")
    conn.execute("create table payers (jurisdiction text, payer_type text, aliases text, states text)")
    conn.executemany("insert into payers values (?, ?, ?, ?)", [
        ("JX", "medicare_mac", None, '["AL"]'),
        ("J15", "medicare_mac", None, '["KY", "OH"]'),
        ("DME JA", "medicare_mac", None, "[]"),
        (None, "medicaid_ffs", '["Medi-Cal", "CA Medicaid"]', '["CA"]'),
        (None, "medicaid_ffs", '["Two State Plan"]', '["CA", "NV"]'),
    ])
    groups = derived_groups(conn)
    assert ("jx", "jurisdiction x") in groups and ("j15", "jurisdiction 15") in groups
    assert ("Medi-Cal", "CA Medicaid", "California medicaid") in groups
    assert len(groups) == 3
    thesaurus = Thesaurus.from_groups(groups)
    assert "medi-cal" in thesaurus.alternatives(term_key("california medicaid"))
    assert thesaurus.alternatives(term_key("medicaid")) == []  # "CA Medicaid" is not plain "medicaid"


def test_an_index_written_by_two_processes_answers_as_one(built_db, tmp_path, monkeypatch):
    """Large knowledge bases are indexed by two processes, one segment each: same answers."""
    from db import search_index

    two = tmp_path / "payerkb.db"
    shutil.copy(built_db, two)
    monkeypatch.setattr(search_index, "PARALLEL_MIN_DOCS", 1)
    build_search_index(two)
    try:
        assert len(list(index_path(two).glob("*.seg"))) == 2
        for query, filters in [("invoice threshold medicaid", {}), ("c9399 ambulatory", {}), ("oscar", {}),
                               ("", {"topic": "ndc", "state": "TX"}), ("authoriz*", {})]:
            one_answer, two_answer = search(query, built_db, **filters), search(query, two, **filters)
            for key in ("total", "gap_total", "facets", "gaps"):
                assert one_answer[key] == two_answer[key], (query, key)
            assert [h["rule_ids"] for h in one_answer["hits"]] == [h["rule_ids"] for h in two_answer["hits"]]
            assert [h["snippet"] for h in one_answer["hits"]] == [h["snippet"] for h in two_answer["hits"]]
    finally:
        forget(two)
