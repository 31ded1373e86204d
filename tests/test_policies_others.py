"""The non-Medicare payers in policies/ (commercial, BCBS, Medicare Advantage, Medicaid, TRICARE),
checked the way a user meets them: through the built database and its canned queries."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from paths import POLICIES
from kb_queries import canned as _canned, rows as _rows

MEDICAID_STATES = ["TX", "NY", "NC", "WA", "WV", "IN", "IL", "MO", "OR", "AL", "CA", "MA", "MI", "SC", "AR"]
# The payer files and groups written for this part of policies/ (everything but Medicare FFS).
OWN_FILES = sorted(
    [p for p in (POLICIES / "payers").glob("*.yml") if not p.name.startswith("medicare-")]
    + [POLICIES / "groups" / "unitedhealthcare-ndc.yml", POLICIES / "groups" / "priority-health.yml"]
)


def test_medicaid_programs_plans_and_tricare_are_all_there(built_db):
    payers = {r["id"]: r for r in _rows(built_db, "select * from payers")}
    for state in MEDICAID_STATES:
        program = payers.get(f"medicaid-{state.lower()}")
        assert program, f"no Medicaid program for {state}"
        assert program["payer_type"] == "medicaid_ffs"
        assert json.loads(program["states"]) == [state]
    plans = [p for p in payers.values() if p["payer_type"] in ("commercial", "bcbs", "medicare_advantage")]
    assert len(plans) >= 12
    assert {"unitedhealthcare", "aetna", "cigna", "humana", "bcbs-texas", "bcbs-illinois"} <= {p["id"] for p in plans}
    assert payers["tricare"]["payer_type"] == "tricare"


@pytest.mark.asyncio
async def test_pricing_at_a_percentage_of_wac_or_awp_answers_with_the_percent(ds):
    awp = {(r["payer_id"], r["setting"]): r for r in await _canned(ds, "pricing_basis_by_payer_type", payer_type="", basis="awp")}
    assert awp[("tricare", "any")]["percent"] == 95
    assert awp[("bridgespan", "any")]["percent"] == 100
    assert awp[("bcbs-illinois", "any")]["percent"] is None  # AWP, but the source gives no percentage
    wac = {r["payer_id"]: r for r in await _canned(ds, "pricing_basis_by_payer_type", payer_type="medicaid_ffs", basis="wac")}
    assert wac["medicaid-in"]["percent"] == 105
    assert all(r["payer_type"] == "medicaid_ffs" for r in wac.values())


@pytest.mark.asyncio
async def test_texas_childrens_prior_auth_threshold_is_by_code(ds):
    j3490 = [r for r in await _canned(ds, "prior_auth_for_code", code="J3490") if r["payer_id"] == "texas-childrens-health-plan"]
    assert sorted((r["requirement"], r["threshold_usd"], r["effective_from"]) for r in j3490) == [
        ("conditional", 5000, "2023-06-08"), ("conditional", 50000, "2019-01-01")]  # 2019 list: injectables > $50,000
    for code in ("J3590", "J9999", "C9399"):
        rows = [r for r in await _canned(ds, "prior_auth_for_code", code=code) if r["payer_id"] == "texas-childrens-health-plan"]
        assert sorted((r["requirement"], r["threshold_usd"] or 0) for r in rows) == [("conditional", 50000), ("required", 0)], code


@pytest.mark.asyncio
async def test_sources_that_disagree_are_kept_as_conflicting_rules(ds):
    rows = [r for r in await _canned(ds, "conflicting_or_unconfirmed", status="conflicting") if r["payer_id"] == "tricare"]
    keys = {r["rule_id"].split("--")[1] for r in rows}
    assert keys == {"coding-j3490-in-lieu", "coding-specific-code-first",
                    "pricing-home-infusion-dme", "pricing-home-infusion-awp"}
    pairs = [{"coding-j3490-in-lieu", "coding-specific-code-first"}, {"pricing-home-infusion-dme", "pricing-home-infusion-awp"}]
    for row in rows:
        key = row["rule_id"].split("--")[1]
        other = (next(p for p in pairs if key in p) - {key}).pop()
        assert other in row["note"], "each side of a conflict names the other"


@pytest.mark.asyncio
async def test_invoice_thresholds_and_paper_claims(ds, built_db):
    invoices = {r["payer_id"]: r for r in await _canned(ds, "invoice_required_by_threshold", code="J3490")}
    # Nebraska's $25 is a reconsideration gap (invoice cost vs allowed), not a billed-amount threshold
    assert invoices["bcbs-nebraska"]["threshold_usd"] is None and "$25" in invoices["bcbs-nebraska"]["summary"]
    assert "medicaid-ny" in invoices and invoices["medicaid-ny"]["invoice_max_age_days"] is None
    paper = {r["payer_id"] for r in _rows(built_db, "select payer_id from rules where submission_channel = 'paper'")}
    assert {"medicaid-tx", "medicaid-wv", "medicaid-ny"} <= paper


def test_the_me_unit_disagreement_is_visible_per_payer(built_db):
    ndc = {r["payer_id"]: r for r in _rows(
        built_db, "select payer_id, ndc_unit_qualifiers, note from rules where topic = 'ndc' and ndc_unit_qualifiers is not null")}
    assert "ME" in json.loads(ndc["tricare"]["ndc_unit_qualifiers"])
    for payer in ("oklahoma-healthchoice", "mountain-health-coop", "bcbs-texas"):
        assert "ME" not in json.loads(ndc[payer]["ndc_unit_qualifiers"]), payer
        assert "ME" in ndc[payer]["note"], f"{payer} should say it differs from TRICARE on ME"


@pytest.mark.asyncio
async def test_payers_without_public_noc_rules_show_every_topic_as_a_gap(ds):
    for payer in ("cigna", "oscar"):  # aetna now has a sourced new-to-market precertification rule
        rows = await _canned(ds, "rules_for_payer_and_code", payer=payer, code="J3590")
        assert rows and {r["requirement"] for r in rows} == {"unknown"}, payer
        assert all(r["source_urls"] is None for r in rows)


def test_own_sources_are_not_declared_twice_under_different_ids():
    by_url: dict[str, set[str]] = {}
    for path in sorted(POLICIES.rglob("*.yml")):
        for src in (yaml.safe_load(path.read_text()) or {}).get("sources", []) or []:
            if isinstance(src, dict) and "url" in src:
                by_url.setdefault(src["url"], set()).add(src["id"])
    own_urls = {s["url"] for p in OWN_FILES for s in (yaml.safe_load(p.read_text()).get("sources") or [])}
    dupes = {u: ids for u, ids in by_url.items() if u in own_urls and len(ids) > 1}
    assert not dupes, f"reuse the existing source id for these URLs: {dupes}"


def test_own_rules_are_in_our_words_not_quotes():
    quote = re.compile(r"[\"“”]")
    for path in OWN_FILES:
        data = yaml.safe_load(path.read_text())
        for rule in data.get("rules") or []:
            for key in ("summary", "note"):
                assert not quote.search(rule.get(key) or ""), f"{path.name} {rule['id']}: no quotations in {key}"


def test_medicaid_program_names_are_search_synonyms(built_db):
    groups: dict[int, set[str]] = {}
    for row in _rows(built_db, "select group_id, term from synonyms"):
        groups.setdefault(row["group_id"], set()).add(row["term"])
    assert any({"masshealth", "massachusetts medicaid"} <= g for g in groups.values())
    assert any({"bcbstx", "blue cross blue shield of texas"} <= g for g in groups.values())


# --- second pass: topics found past the first research round ------------------------------------

def _line(**fields) -> dict:
    base = {"hcpcs": "J3490", "date_of_service": "2025-06-02", "setting": "professional", "units": 1}
    return base | fields


def _errors(result: dict, topic: str) -> list[str]:
    return [f["rule_id"] for f in result["findings"] if f["severity"] == "error" and f["topic"] == topic]


def test_noc_units_differ_between_payers_and_each_says_how(built_db):
    units = {r["payer_id"]: r["unit_rule"] for r in _rows(
        built_db, "select payer_id, unit_rule from rules where topic = 'units' and origin != 'gap'")}
    assert units["florida-blue"] == "per_container"  # containers used, not one unit
    assert units["medicaid-mo"] == "ndc_units"        # NDC quantity, not HCPCS units
    assert units["medicare-cms"] == "one_unit"


def test_oregon_unlisted_drug_lines_need_name_ndc_and_dose(built_db):
    from payerkb.check import check_claim

    bare = check_claim(_line(payer_id="medicaid-or", narrative="drug 10 mg"), built_db)
    assert _errors(bare, "narrative") == ["medicaid-or--narrative-unlisted"]
    full = check_claim(_line(payer_id="medicaid-or", narrative="Drugzumab 10 mg NDC 12345678901",
                             ndc="12345678901", ndc_qualifier="N4", ndc_unit="ML", ndc_quantity=1), built_db)
    assert not _errors(full, "narrative") and not _errors(full, "ndc")
    rule = _rows(built_db, "select codes from rules where id = 'medicaid-or--coding-unlisted'")[0]
    assert set(json.loads(rule["codes"])) == {"J3490", "J3590", "J7599", "J7699", "J7799", "J8499", "J8999", "J9999"}


def test_maryland_community_plan_asks_for_jz_only_from_may_2025(built_db):
    from payerkb.check import check_claim

    line = _line(payer_id="unitedhealthcare-community-plan-md", hcpcs="J3590", single_dose_container=True,
                 discarded_amount=0)
    assert _errors(check_claim(line, built_db), "modifiers") == ["unitedhealthcare-community-plan-md--modifiers-jz-professional"]
    assert not _errors(check_claim(line | {"date_of_service": "2025-04-30"}, built_db), "modifiers")
    assert not _errors(check_claim(line | {"modifiers": ["JZ"]}, built_db), "modifiers")


@pytest.mark.asyncio
async def test_asp_based_medicaid_pricing_answers_with_its_percent(ds):
    asp = {r["payer_id"]: r for r in await _canned(ds, "pricing_basis_by_payer_type", payer_type="medicaid_ffs", basis="asp")}
    assert asp["medicaid-il"]["percent"] == 106
    assert asp["medicaid-il"]["as_of"] == "2012-03-23"  # the date of the HFS notice


def test_florida_blue_wants_an_11_digit_ndc_without_separators_and_no_milligrams(built_db):
    rule = _rows(built_db, "select ndc_format, ndc_unit_qualifiers, claim_field from rules "
                           "where id = 'florida-blue--ndc-professional'")[0]
    assert rule["ndc_format"] == "11_digit_no_separators"
    assert "ME" not in json.loads(rule["ndc_unit_qualifiers"])
    assert "837p-2410-lin-ctp" in json.loads(rule["claim_field"])
