"""Smart search over drug rules (db/search_documents.py indexes them beside the rules): drug names,
generic names, criteria ids, payers, states and codes find them; the JSON and the page link the
drug rule and the drug. On the fixture tree and on the real policies/."""
from __future__ import annotations

import pytest

from drugs_fixture import build_drug_fixture, datasette_for
from payerkb.search import search


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_drug_fixture(tmp_path_factory.mktemp("drugs-search") / "payerkb.db")


def ids(db, q, n=5, **filters):
    return [h["rule_id"] for h in search(q, db, limit=n, **filters)["hits"]]


def test_drug_name_and_payer(fixture_db):
    answer = search("qalsody peach", fixture_db, limit=5)
    top = answer["hits"][0]
    assert top["rule_id"] == "peach-health--qalsody-prior-auth"
    assert top["kind"] == "drug_rule" and top["drug_id"] == "qalsody" and top["drug_name"] == "Qalsody"
    assert top["criteria_id"] == "CC-0237" and top["effective_from"] == "2023-11-01"
    assert top["topic"] == "prior_auth" and top["codes"] == ["J3490", "J3590"] and top["states"] == ["GA"]
    assert "Qalsody" in top["summary"] and "CC-0237" in top["summary"]  # written from its fields


def test_generic_name_alias_criteria_reviewer_and_typo(fixture_db):
    assert set(ids(fixture_db, "tofersen")) == {"peach-health--qalsody-prior-auth", "river-plan--qalsody-prior-auth"}
    assert ids(fixture_db, "biib067")[0].endswith("qalsody-prior-auth")
    assert ids(fixture_db, '"CC-0237"') == ["peach-health--qalsody-prior-auth"]
    assert ids(fixture_db, "RP-77")[0] == "river-plan--qalsody-prior-auth"
    assert ids(fixture_db, "example review company")[0] == "peach-health--nexviazyme-prior-auth"
    answer = search("nexviazym prior auth", fixture_db, limit=3)
    assert answer["hits"][0]["rule_id"] == "peach-health--nexviazyme-prior-auth"


def test_which_drugs_need_pa_on_a_code_in_a_state(fixture_db):
    found = ids(fixture_db, "which drugs need pa on j3590 in georgia", n=5)
    assert found and all(i.startswith("peach-health--") for i in found)
    assert "peach-health--qalsody-prior-auth" in found
    # filters: topic and state keep drug rules too
    assert set(ids(fixture_db, "qalsody", topic="prior_auth", state="TX")) == {"river-plan--qalsody-prior-auth"}
    assert ids(fixture_db, "dupcode", code="J9999") == ["peach-health--dupcode-billing-unit"]


async def test_search_json_and_page_link_the_drug_rule(fixture_db, metadata):
    site = datasette_for(fixture_db, metadata)
    data = (await site.client.get("/-/search.json?q=qalsody+peach")).json()
    top = data["hits"][0]
    assert top["rule_url"] == "/payerkb/drug_rules/peach-health--qalsody-prior-auth"
    assert top["drug_url"] == "/-/drugs/qalsody" and top["payer_url"] == "/-/payers/peach-health"
    html = (await site.client.get("/-/search?q=qalsody+peach")).text
    assert '<a href="/-/drugs/qalsody">Qalsody</a>, prior auth' in html
    assert "drug rule peach-health--qalsody-prior-auth" in html


def test_scraped_candidates_are_not_searchable(fixture_db):
    assert search("scrapedonly", fixture_db)["total"] == 0
    assert search('"SCR-1"', fixture_db)["total"] == 0


# --- the real policies/ ---------------------------------------------------------------------------

@pytest.mark.parametrize("q, payer", [("qalsody anthem", "anthem-georgia"), ("tofersen georgia", "anthem-georgia"),
                                      ("CC-0237 georgia", "anthem-georgia")])
def test_real_drug_and_payer(built_db, q, payer):
    hits = search(q, built_db, limit=3)["hits"]
    assert f"{payer}--qalsody-prior-auth" in [h["rule_id"] for h in hits], [h["rule_id"] for h in hits]


def test_real_nexviazyme_prior_auth(built_db):
    hits = search("nexviazyme prior auth", built_db, limit=5)["hits"]
    assert hits and hits[0]["kind"] == "drug_rule" and hits[0]["drug_id"] == "nexviazyme"
    assert hits[0]["topic"] == "prior_auth"
    assert {h["drug_id"] for h in hits[:3]} == {"nexviazyme"}


def test_real_which_drugs_need_pa_on_j3590_in_georgia(built_db):
    hits = search("which drugs need pa on j3590 in georgia", built_db, limit=10)["hits"]
    drug_hits = [h for h in hits if h["kind"] == "drug_rule"]
    assert len(drug_hits) >= 5
    assert all(h["payer_id"] == "anthem-georgia" and h["topic"] == "prior_auth" and "J3590" in h["codes"]
               for h in drug_hits[:5])


def test_real_drug_rule_found_by_its_ndc(built_db):
    """An NDC a Medicaid bulletin names finds that drug's rules, typed as 11 digits or 5-4-2."""
    import sqlite3

    ndc, drug = sqlite3.connect(built_db).execute(
        "select n.ndc, n.drug_id from drug_ndcs n join drug_rules r on r.drug_id = n.drug_id "
        "order by n.drug_id, n.ndc limit 1").fetchone()
    for text in (ndc.replace("-", ""), ndc):
        hits = search(text, built_db, limit=5)["hits"]
        assert hits and hits[0].get("drug_id") == drug, (text, hits[:1])
