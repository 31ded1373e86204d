"""Drug tables (db/drug_tables.py): built from a small fixture tree and from the real policies/,
keys, indexes, full-text search, the crosswalk match, the canned query, and scraped drug-rule
candidates kept out of every served table."""
from __future__ import annotations

import json
import sqlite3

import pytest
import sqlite_utils

from db import drug_tables
from db.validate import load_policies
from drugs_fixture import DRUG_POLICIES, build_drug_fixture, datasette_for
from paths import shipped_policies

DRUG_TABLES = ("drugs", "drug_ndcs", "drug_sources", "drug_rules", "drug_rule_codes", "drug_rule_sources")


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_drug_fixture(tmp_path_factory.mktemp("drugs-build") / "payerkb.db")


@pytest.fixture(scope="module")
def fx(fixture_db):
    return sqlite_utils.Database(fixture_db)


def test_fixture_tables_and_counts(fx):
    assert set(DRUG_TABLES) <= set(fx.table_names())
    assert fx["drugs"].count == 6
    assert fx["drug_rules"].count == 7
    assert fx["drug_rule_codes"].count == 8  # qalsody names J3490 and J3590 at peach-health
    assert fx["drug_ndcs"].count == 2
    assert fx["drug_rule_sources"].count == 7
    assert {r["ndc11"] for r in fx["drug_ndcs"].rows} == {"64406010901", "11111222233"}
    # the contract columns
    assert {"id", "brand_name", "generic_name", "aliases", "ndcs", "hcpcs_code", "hcpcs_code_from",
            "crosswalk_hcpcs_code", "crosswalk_quarter"} <= set(fx["drugs"].columns_dict)
    assert {"id", "payer_id", "drug_id", "topic", "setting", "requirement", "summary", "effective_from",
            "effective_to", "criteria_id", "program", "reviewer", "billing_unit", "rate_usd", "ndc_units",
            "ndc_unit_qualifier", "status", "origin", "note", "as_of"} <= set(fx["drug_rules"].columns_dict)


def test_fixture_rule_row(fx):
    rule = fx["drug_rules"].get("peach-health--qalsody-prior-auth")
    assert rule["payer_id"] == "peach-health" and rule["drug_id"] == "qalsody"
    assert rule["effective_from"] == "2023-11-01" and rule["criteria_id"] == "CC-0237"
    assert rule["reviewer"] == "Peach medical specialty drug review team"
    assert rule["as_of"] == "2023-08-01" and rule["has_official_source"] == 1
    assert json.loads(rule["codes"]) == ["J3490", "J3590"]
    assert rule["file"].endswith("drug-rules/peach-health.yml") and rule["line"] == 18
    undated = fx["drug_rules"].get("peach-health--adaone-prior-auth")
    assert undated["as_of"] == "2026-11-27" and undated["has_official_source"] == 0  # read date: source undated
    unit = fx["drug_rules"].get("peach-health--dupcode-billing-unit")
    assert (unit["billing_unit"], unit["rate_usd"]) == ("1 mg", 12.5)


def test_keys_indexes_and_fts(fx):
    assert fx["drug_rules"].pks == ["id"]
    assert {(fk.column, fk.other_table) for fk in fx["drug_rules"].foreign_keys} == {
        ("payer_id", "payers"), ("drug_id", "drugs")}
    assert {(fk.column, fk.other_table) for fk in fx["drug_rule_codes"].foreign_keys} == {
        ("drug_rule_id", "drug_rules"), ("code", "codes")}
    assert {(fk.column, fk.other_table) for fk in fx["drug_rule_sources"].foreign_keys} == {
        ("drug_rule_id", "drug_rules"), ("source_id", "sources")}
    assert {(fk.column, fk.other_table) for fk in fx["drug_ndcs"].foreign_keys} == {("drug_id", "drugs")}
    assert ("ndc11",) in {tuple(i.columns) for i in fx["drug_ndcs"].indexes}
    assert ("payer_id", "topic") in {tuple(i.columns) for i in fx["drug_rules"].indexes}
    assert fx.execute("pragma foreign_key_check").fetchall() == []
    assert fx["drugs"].detect_fts() == "drugs_fts" and fx["drug_rules"].detect_fts() == "drug_rules_fts"
    assert [r["id"] for r in fx["drugs"].search("tofersen")] == ["qalsody"]
    assert [r["id"] for r in fx["drugs"].search("BIIB067")] == ["qalsody"]
    assert [r["id"] for r in fx["drug_rules"].search('"CC-0237"')] == ["peach-health--qalsody-prior-auth"]
    assert {r["id"] for r in fx["drug_rules"].search("review")} >= {"peach-health--qalsody-prior-auth"}


def test_drug_and_drug_rule_sources_are_in_sources(fx):
    ids = {r["id"] for r in fx["sources"].rows}
    assert {"qalsody-label-test", "peach-drug-list-2023", "peach-drug-list-2021", "river-drug-list"} <= ids
    assert fx["drug_sources"].get(("qalsody", "qalsody-label-test"))["locator"] is None
    assert fx["drug_sources"].get(("oldcode", "peach-drug-list-2023"))["locator"] == "drugs with their own code"


def test_crosswalk_code_by_ndc_by_name_and_never_guessed(fx):
    got = {r["id"]: (r["crosswalk_hcpcs_code"], r["crosswalk_quarter"], r["crosswalk_match"]) for r in fx["drugs"].rows}
    assert got["qalsody"] == ("J1304", "2026Q1", "ndc")
    assert got["nexviazyme"] == ("J0219", "2026Q1", "name")  # no NDC in its file: exact name match
    assert got["dupcode"] == (None, None, None)  # its name is under two codes: left empty
    assert got["oldcode"] == (None, None, None)  # not in the crosswalk; its own code is its file's
    assert fx["drugs"].get("oldcode")["hcpcs_code"] == "J1234"
    assert got["adaone"] == got["adatwo"] == (None, None, None)


def test_crosswalk_code_rules():
    quarters = {"2026Q1": [("64406010901", "qalsody", "J1304"), ("1", "twin", "J1111"), ("2", "twin", "J2222")],
                "2025Q4": [("64406010901", "qalsody", "C9155")]}
    drug = {"ndcs": json.dumps(["64406-0109-01"]), "brand_name": "Qalsody", "generic_name": None}
    assert drug_tables.crosswalk_code(drug, quarters) == ("J1304", "2026Q1", "ndc")  # newest quarter
    assert drug_tables.crosswalk_code({"ndcs": None, "brand_name": "TWIN", "generic_name": None}, quarters) == (None, None, None)
    assert drug_tables.crosswalk_code({"ndcs": None, "brand_name": "Qalsody®", "generic_name": None}, quarters) == ("J1304", "2026Q1", "name")
    # a name is matched exactly, not as part of another
    assert drug_tables.crosswalk_code({"ndcs": None, "brand_name": "Qals", "generic_name": None}, quarters) == (None, None, None)
    assert drug_tables.normalize_name("Vyondys-53 ") == drug_tables.normalize_name("VYONDYS 53") == "vyondys 53"


def test_scraped_drug_candidates_are_not_served(fixture_db):
    kb, problems = load_policies(DRUG_POLICIES)
    assert not problems and len(kb.scraped_drug_rules) == 1  # the candidate file is read ...
    conn = sqlite3.connect(fixture_db)
    tables = [t for (t,) in conn.execute("select name from sqlite_master where type = 'table'")]
    for table in tables:  # ... and nothing of it is in any table
        cols = [c[1] for c in conn.execute(f"pragma table_info([{table}])")]
        for col in cols:
            hit = conn.execute(f"select count(*) from [{table}] where cast([{col}] as text) like '%scrapedonly%' "
                               f"or cast([{col}] as text) like '%SCR-1%' or cast([{col}] as text) like '%scraped-candidate%'"
                               ).fetchone()[0]
            assert hit == 0, (table, col)


# --- the real policies/ ---------------------------------------------------------------------------

def test_real_policies_drug_tables(built_db):
    kb, _ = shipped_policies()
    db = sqlite_utils.Database(built_db)
    assert db["drugs"].count == len(kb.drugs)
    assert db["drug_rules"].count == sum(len(f.model.drug_rules) for f in kb.drug_rules)
    assert db["drug_rules"].count >= 100
    qalsody = db["drug_rules"].get("anthem-georgia--qalsody-prior-auth")
    assert qalsody["topic"] == "prior_auth" and qalsody["requirement"] == "required"
    assert qalsody["effective_from"] == "2023-11-01" and qalsody["criteria_id"] == "CC-0237"
    assert {r["code"] for r in db["drug_rule_codes"].rows_where("drug_rule_id = ?", [qalsody["id"]])} == {"J3490", "J3590"}
    src = db.execute("""select s.url, s.doc_date from drug_rule_sources ds join sources s on s.id = ds.source_id
                        where ds.drug_rule_id = ?""", [qalsody["id"]]).fetchone()
    assert src[0].startswith("https://providernews.anthem.com/georgia/") and src[1] == "2023-08-01"
    assert db["drugs"].get("qalsody")["crosswalk_hcpcs_code"] == "J1304"
    assert db.execute("pragma foreign_key_check").fetchall() == []
    scraped = {s.id for located in kb.scraped_drug_rules for s in located.model.sources}
    assert not scraped & {r["id"] for r in db["sources"].rows}


# --- the canned query ------------------------------------------------------------------------------

async def test_canned_query_drugs_needing_prior_auth(fixture_db, metadata, ds):
    fx_ds = datasette_for(fixture_db, metadata)

    async def rows(client, **params):
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        r = await client.get(f"/payerkb/drugs_needing_prior_auth.json?_shape=array&{qs}")
        assert r.status_code == 200, r.text[:300]
        return r.json()

    every = await rows(fx_ds.client, payer="", code="", date="")
    assert len(every) == 6  # every prior_auth drug rule; the billing-unit rule is not one
    peach = await rows(fx_ds.client, payer="peach-health", code="j3490", date="")
    assert [r["drug_id"] for r in peach] == ["qalsody"]
    row = peach[0]
    assert row["brand_name"] == "Qalsody" and row["generic_name"] == "tofersen"
    assert row["codes"] == "J3490 J3590" and row["effective_from"] == "2023-11-01" and row["effective_to"] is None
    assert row["criteria_id"] == "CC-0237" and row["reviewer"] == "Peach medical specialty drug review team"
    assert row["source_url"] == "https://example.org/peach/drug-list-2023" and row["doc_date"] == "2023-08-01"
    # a date of service keeps the rules in effect on it
    on = {r["drug_id"] for r in await rows(fx_ds.client, payer="peach-health", code="", date="2023-06-01")}
    assert on == {"nexviazyme", "adaone", "adatwo", "oldcode"}
    on = {r["drug_id"] for r in await rows(fx_ds.client, payer="peach-health", code="", date="2024-01-02")}
    assert on == {"qalsody", "adaone", "adatwo", "oldcode"}  # nexviazyme's rule ended 2023-12-31
    # the real knowledge base
    real = await rows(ds.client, payer="anthem-georgia", code="J3590", date="2024-01-15")
    qal = [r for r in real if r["drug_id"] == "qalsody"]
    assert qal and qal[0]["criteria_id"] == "CC-0237" and qal[0]["doc_date"] == "2023-08-01"
    assert not [r for r in await rows(ds.client, payer="anthem-georgia", code="J3590", date="2023-10-31")
                if r["drug_id"] == "qalsody"]


def test_build_summary_counts_only_served_sources(tmp_path):
    from db.build import build

    result = build(DRUG_POLICIES, tmp_path / "payerkb.db", extra_steps=[])
    assert result.sources == sqlite_utils.Database(tmp_path / "payerkb.db")["sources"].count == 6
