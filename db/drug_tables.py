"""Drugs billed on NOC codes and the payers' rules about them, from policies/drugs/ and
policies/drug-rules/ (validated as DrugFile and DrugRulesFile in db/schema.py).

`load_drug_tables(db, kb)` runs inside the core build (db/build.py), so every database has the
tables: drugs, drug_ndcs, drug_sources, drug_rules, drug_rule_codes, drug_rule_sources.
`match_crosswalk(db, kb, out)` is a build step (db/steps.py) that runs once the CMS files are
loaded: it records the specific HCPCS code the CMS NDC-HCPCS crosswalk gives a drug, matched on
the drug's NDCs or, failing that, exactly on its normalised brand or generic name. A drug whose
NDCs or name point at two codes is left without one: never guessed.

Scraped drug-rule candidates (kb.scraped_drug_rules, policies/scraped/drug-rules/) are never
loaded here: they wait for `payerkb review`.
"""
from __future__ import annotations

import json
import re

import sqlite_utils

from db.as_of import as_of

DRUG_COLUMNS = {
    "id": str, "brand_name": str, "generic_name": str, "aliases": str, "ndcs": str,
    "hcpcs_code": str, "hcpcs_code_from": str, "crosswalk_hcpcs_code": str,
    "crosswalk_quarter": str, "crosswalk_match": str, "note": str, "file": str,
}
DRUG_RULE_COLUMNS = {
    "id": str, "payer_id": str, "payer_name": str, "drug_id": str, "drug_name": str,
    "rule_key": str, "topic": str, "setting": str, "requirement": str, "summary": str,
    "codes": str, "effective_from": str, "effective_to": str, "criteria_id": str, "program": str,
    "reviewer": str, "billing_unit": str, "rate_usd": float, "ndc_units": float,
    "ndc_unit_qualifier": str, "status": str, "origin": str, "note": str, "as_of": str, "as_of_undated": int,
    "source_count": int, "has_official_source": int, "file": str, "line": int,
}
FTS = {
    "drugs": ["brand_name", "generic_name", "aliases"],
    "drug_rules": ["summary", "criteria_id", "program", "reviewer", "drug_name", "payer_name"],
}


def normalize_name(name: str | None) -> str:
    """A drug name compared across files and the CMS crosswalk: lower case, words of letters and
    digits only ("Vyondys 53", "vyondys-53" and "VYONDYS 53®" are the same)."""
    return " ".join(re.findall(r"[a-z0-9]+", (name or "").lower()))


def ndc11(ndc: str) -> str:
    return ndc.replace("-", "")


def _as_of(refs, kb) -> tuple[str | None, bool]:
    return as_of([kb.sources[r.ref][0] for r in refs if r.ref in kb.sources])


def _create(db: sqlite_utils.Database) -> None:
    db["drugs"].create(DRUG_COLUMNS, pk="id", not_null={"brand_name"})
    db["drug_ndcs"].create({"drug_id": str, "ndc": str, "ndc11": str}, pk=("drug_id", "ndc"),
                           foreign_keys=[("drug_id", "drugs", "id")])
    db["drug_sources"].create({"drug_id": str, "source_id": str, "locator": str}, pk=("drug_id", "source_id"),
                              foreign_keys=[("drug_id", "drugs", "id"), ("source_id", "sources", "id")])
    db["drug_rules"].create(DRUG_RULE_COLUMNS, pk="id",
                            not_null={"payer_id", "drug_id", "topic", "requirement", "status", "effective_from"},
                            foreign_keys=[("payer_id", "payers", "id"), ("drug_id", "drugs", "id")])
    db["drug_rule_codes"].create({"drug_rule_id": str, "code": str}, pk=("drug_rule_id", "code"),
                                 foreign_keys=[("drug_rule_id", "drug_rules", "id"), ("code", "codes", "code")])
    db["drug_rule_sources"].create({"drug_rule_id": str, "source_id": str, "locator": str},
                                   pk=("drug_rule_id", "source_id"),
                                   foreign_keys=[("drug_rule_id", "drug_rules", "id"), ("source_id", "sources", "id")])


def load_drug_tables(db: sqlite_utils.Database, kb) -> tuple[int, int]:
    """Create and fill the drug tables; returns (drugs, drug rules)."""
    _create(db)
    drugs, ndcs, drug_sources = [], [], []
    for drug_id, located in sorted(kb.drugs.items()):
        d = located.model
        drugs.append({
            "id": d.id, "brand_name": d.brand_name, "generic_name": d.generic_name,
            "aliases": json.dumps(d.aliases) if d.aliases else None,
            "ndcs": json.dumps(d.ndcs) if d.ndcs else None,
            "hcpcs_code": d.hcpcs_code, "hcpcs_code_from": d.hcpcs_code_from,
            "crosswalk_hcpcs_code": None, "crosswalk_quarter": None, "crosswalk_match": None,
            "note": d.note, "file": located.path,
        })
        ndcs.extend({"drug_id": d.id, "ndc": n, "ndc11": ndc11(n)} for n in dict.fromkeys(d.ndcs))
        refs = {s.id: None for s in d.sources}
        refs.update({r.ref: r.locator for r in d.source_refs})
        drug_sources.extend({"drug_id": d.id, "source_id": s, "locator": loc} for s, loc in refs.items())
    payer_names = {p.model.id: p.model.name for p in kb.payers}
    rules, rule_codes, rule_sources = [], [], []
    for located in kb.drug_rules:
        f = located.model
        for i, r in enumerate(f.drug_rules):
            rid = f"{f.payer_id}--{r.id}"
            drug = kb.drugs.get(r.drug)
            official = any(kb.sources[s.ref][0].kind == "official" for s in r.sources if s.ref in kb.sources)
            rules.append({
                "id": rid, "payer_id": f.payer_id, "payer_name": payer_names.get(f.payer_id),
                "drug_id": r.drug, "drug_name": drug.model.brand_name if drug else r.drug, "rule_key": r.id,
                "topic": r.topic, "setting": r.setting, "requirement": r.requirement, "summary": r.summary,
                "codes": json.dumps(list(dict.fromkeys(r.codes))), "effective_from": r.effective_from,
                "effective_to": r.effective_to, "criteria_id": r.criteria_id, "program": r.program,
                "reviewer": r.reviewer, "billing_unit": r.billing_unit, "rate_usd": r.rate_usd,
                "ndc_units": r.ndc_units, "ndc_unit_qualifier": r.ndc_unit_qualifier, "status": r.status,
                "origin": r.origin, "note": r.note, "as_of": (dated := _as_of(r.sources, kb))[0],
                "as_of_undated": int(dated[1]),
                "source_count": len(r.sources), "has_official_source": int(official),
                "file": located.path, "line": located.line("drug_rules", i),
            })
            rule_codes.extend({"drug_rule_id": rid, "code": c} for c in dict.fromkeys(r.codes))
            seen = {}
            for s in r.sources:
                seen.setdefault(s.ref, s.locator)
            rule_sources.extend({"drug_rule_id": rid, "source_id": s, "locator": loc} for s, loc in seen.items())
    db["drugs"].insert_all(drugs)
    db["drug_ndcs"].insert_all(ndcs)
    db["drug_sources"].insert_all(drug_sources)
    db["drug_rules"].insert_all(rules)
    db["drug_rule_codes"].insert_all(rule_codes)
    db["drug_rule_sources"].insert_all(rule_sources)
    return len(drugs), len(rules)


def indexes_and_fts(db: sqlite_utils.Database) -> None:
    for table, cols in (
        ("drug_rules", ["payer_id"]), ("drug_rules", ["drug_id"]), ("drug_rules", ["topic"]),
        ("drug_rules", ["payer_id", "topic"]), ("drug_rules", ["effective_from"]),
        ("drug_rules", ["criteria_id"]), ("drug_rule_codes", ["code"]), ("drug_rule_sources", ["source_id"]),
        ("drug_ndcs", ["ndc11"]), ("drug_sources", ["source_id"]), ("drugs", ["hcpcs_code"]),
    ):
        db[table].create_index(cols, if_not_exists=True)
    for table, cols in FTS.items():
        db[table].enable_fts(cols, tokenize="porter", create_triggers=False, replace=True)
        db[table].rebuild_fts()


# --- the CMS NDC-HCPCS crosswalk ----------------------------------------------------------------

def _crosswalk_by_quarter(db: sqlite_utils.Database) -> dict[str, list[tuple[str, str, str]]]:
    """quarter -> [(ndc 11 digits, normalised drug name, hcpcs)] of the non-NOC rows."""
    if "ndc_hcpcs_crosswalk" not in db.table_names():
        return {}
    noc = {c for (c,) in db.execute("select code from codes where is_noc = 1")}
    out: dict[str, list] = {}
    for quarter, ndc, name, hcpcs in db.execute(
            "select quarter, ndc, drug_name, hcpcs from ndc_hcpcs_crosswalk where hcpcs is not null"):
        if hcpcs in noc:
            continue
        out.setdefault(quarter, []).append((str(ndc or ""), normalize_name(name), hcpcs))
    return out


def crosswalk_code(drug: dict, quarters: dict[str, list]) -> tuple[str | None, str | None, str | None]:
    """(code, quarter, 'ndc' or 'name') for one drugs row, from the newest quarter that lists the
    drug; (None, None, None) when none does or when what it lists is not one code."""
    own_ndcs = {ndc11(n) for n in json.loads(drug["ndcs"] or "[]")}
    names = {normalize_name(drug["brand_name"]), normalize_name(drug["generic_name"])} - {""}
    for quarter in sorted(quarters, reverse=True):
        rows = quarters[quarter]
        by_ndc = {h for n, _, h in rows if n in own_ndcs}
        if by_ndc:
            return (by_ndc.pop(), quarter, "ndc") if len(by_ndc) == 1 else (None, None, None)
        by_name = {h for _, name, h in rows if name and name in names}
        if by_name:
            return (by_name.pop(), quarter, "name") if len(by_name) == 1 else (None, None, None)
    return None, None, None


def match_crosswalk(db: sqlite_utils.Database, kb=None, out_path=None) -> None:
    """Build step: fill drugs.crosswalk_hcpcs_code / crosswalk_quarter / crosswalk_match."""
    if "drugs" not in db.table_names():
        return
    quarters = _crosswalk_by_quarter(db)
    if not quarters:
        return
    with db.conn:
        for drug in list(db.query("select id, brand_name, generic_name, ndcs from drugs")):
            code, quarter, how = crosswalk_code(drug, quarters)
            if code:
                db.execute("update drugs set crosswalk_hcpcs_code = ?, crosswalk_quarter = ?, crosswalk_match = ? "
                           "where id = ?", [code, quarter, how, drug["id"]])
