"""State Medicaid fee-for-service programs NE-WY (and the NC drug bulletins), read the way a user
meets them: payer rules through the built database, drug rules through the validated policies."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import POLICIES


def _rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def _rule(db: Path, rule_id: str) -> dict:
    rows = _rows(db, "select * from rules where id = ?", rule_id)
    assert rows, f"no rule {rule_id}"
    return rows[0]


def _urls(db: Path, rule_id: str) -> set[str]:
    return {r["url"] for r in _rows(
        db, "select s.url from rule_sources rs join sources s on s.id = rs.source_id where rs.rule_id = ?", rule_id)}


@pytest.fixture(scope="module")
def kb():
    from db.validate import load_policies

    kb, problems = load_policies(POLICIES)
    return kb


def _drug_rules(kb, payer_id: str) -> dict:
    for loc in kb.drug_rules:
        if loc.model.payer_id == payer_id:
            return {r.drug: r for r in loc.model.drug_rules}
    raise AssertionError(f"no drug rules for {payer_id}")


# --- North Carolina: one bulletin per drug on J3590 / J3490 / J9999 -------------------------------

def test_nc_drug_bulletins_give_code_unit_rate_and_start(kb):
    rules = _drug_rules(kb, "medicaid-nc")
    assert len(rules) >= 25
    cab = rules["cabenuva"]
    assert (cab.codes, cab.billing_unit, cab.rate_usd, cab.effective_from) == (["J3490"], "1 mL", 1069.2, "2021-02-01")
    jem = rules["jemperli"]
    assert (jem.codes, jem.billing_unit, jem.rate_usd, jem.effective_from) == (["J9999"], "1 mg", 22.4, "2021-05-17")
    upl = rules["uplizna"]
    assert (upl.codes, upl.rate_usd, upl.criteria_id) == (["J3590"], 471.6, "1B")
    # a bulletin found only on the archive list: code and start, no unit invented
    dur = rules["durysta"]
    assert (dur.codes, dur.effective_from, dur.billing_unit, dur.rate_usd) == (["J3490"], "2020-06-26", None, None)
    assert {r.topic for r in rules.values()} == {"billing_unit"}
    assert all(r.sources for r in rules.values())
    codes = {c for r in rules.values() for c in r.codes}
    assert codes == {"J3490", "J3590", "J9999"}


def test_nc_bulletin_drugs_carry_their_ndcs_and_later_codes(kb):
    assert kb.drugs["cabenuva"].model.ndcs == ["49702-0253-15", "49702-0240-15"]
    assert kb.drugs["givlaari"].model.ndcs == ["71336-1001-01"]
    evk = kb.drugs["evkeeza"].model
    assert (evk.hcpcs_code, evk.hcpcs_code_from) == ("C9079", "2021-07-01")
    assert kb.drugs["beovu"].model.hcpcs_code == "J0179"


def test_nc_payer_rules_cover_j9999_bulletins_through_the_db(built_db):
    units = _rule(built_db, "medicaid-nc--units-per-drug-bulletin")
    assert units["unit_rule"] == "per_payer_billing_unit"
    assert set(json.loads(units["codes"])) == {"J3490", "J3590", "J9999"}
    ndc = _rule(built_db, "medicaid-nc--ndc-padp")
    assert ndc["requirement"] == "required"
    assert any("uplizna" in u for u in _urls(built_db, "medicaid-nc--ndc-padp"))
