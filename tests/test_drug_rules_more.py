"""Drug-level rules from payer organizations beyond the first few (policies/drug-rules/<payer>.yml).

Where the built database has a drug_rules table (db.build loads the drug tables), the rules are read
through it; otherwise they are read through db.validate.load_policies. Either way each test asserts
the drug, its NOC codes, the date of service and the source of one rule per organization added."""
from __future__ import annotations

import json
import sqlite3

import pytest

from paths import shipped_policies


@pytest.fixture(scope="module")
def kb():
    kb, _problems = shipped_policies()
    return kb


@pytest.fixture(scope="module")
def rules(built_db, kb) -> list[dict]:
    """Every drug rule as a dict: payer_id, rule_key, drug_id, topic, codes, effective_from,
    criteria_id, program, status, source_urls."""
    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    try:
        has_table = conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = 'drug_rules'").fetchone()
        if has_table:
            out = []
            for r in conn.execute("select * from drug_rules").fetchall():
                urls = [u for (u,) in conn.execute(
                    "select s.url from drug_rule_sources d join sources s on s.id = d.source_id "
                    "where d.drug_rule_id = ?", (r["id"],))]
                out.append({"payer_id": r["payer_id"], "rule_key": r["rule_key"], "drug_id": r["drug_id"],
                            "topic": r["topic"], "codes": sorted(json.loads(r["codes"])),
                            "effective_from": r["effective_from"], "criteria_id": r["criteria_id"],
                            "program": r["program"], "status": r["status"], "source_urls": urls})
            return out
    finally:
        conn.close()
    out = []
    for f in kb.drug_rules:
        m = f.model
        for r in m.drug_rules:
            urls = [str(kb.sources[s.ref][0].url) for s in r.sources if s.ref in kb.sources]
            out.append({"payer_id": m.payer_id, "rule_key": r.id, "drug_id": r.drug, "topic": r.topic,
                        "codes": sorted(r.codes), "effective_from": str(r.effective_from),
                        "criteria_id": r.criteria_id, "program": r.program, "status": r.status,
                        "source_urls": urls})
    return out


def _one(rules, payer, key) -> dict:
    found = [r for r in rules if r["payer_id"] == payer and r["rule_key"] == key]
    assert len(found) == 1, (payer, key, found)
    return found[0]


def _organizations(kb) -> set[str]:
    """Organizations (parent_org, else name) with drug rules; a name that only extends another
    (e.g. '... of Michigan' and '... of Michigan Mutual Insurance Company') counts once."""
    payers = {p.model.id: p.model for p in kb.payers}
    names = {(payers[f.model.payer_id].parent_org or payers[f.model.payer_id].name).strip()
             for f in kb.drug_rules if f.model.payer_id in payers}
    return {n for n in names if not any(o != n and n.startswith(o) for o in names)}


def test_gateway_health_uplizna_on_j3590_from_2021(rules):
    r = _one(rules, "gateway-health", "uplizna-prior-auth-2021-01-01")
    assert r["drug_id"] == "uplizna"
    assert r["topic"] == "prior_auth"
    assert r["codes"] == ["J3590"]
    assert r["effective_from"] == "2021-01-01"
    assert r["program"] == "medical prior authorization (Medicare Assured)"
    assert r["source_urls"] == [
        "https://docslib.org/doc/10479883/medications-to-require-medical-prior-authorization-effective-jan-1"]


def test_gateway_health_scenesse_is_on_j3490(rules):
    r = _one(rules, "gateway-health", "scenesse-prior-auth-2021-01-01")
    assert r["codes"] == ["J3490"]
    own = {x["drug_id"] for x in rules if x["payer_id"] == "gateway-health"}
    assert own == {"scenesse", "cutaquig", "strensiq", "uplizna"}


def test_gateway_health_payer_rule_is_conditional(kb):
    payer = next(p.model for p in kb.payers if p.model.id == "gateway-health")
    rule = next(r for r in payer.rules if r.topic == "prior_auth")
    assert rule.requirement == "conditional"
    assert set(rule.codes) == {"J3490", "J3590"}
    assert str(rule.effective_from) == "2021-01-01"


def test_at_least_eight_organizations_have_drug_rules(kb):
    orgs = _organizations(kb)
    assert len(orgs) >= 8, sorted(orgs)
    assert {"Elevance Health", "Gateway Health Plan"} <= orgs
