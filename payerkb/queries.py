"""The SQL behind payerkb's pages (/-/payers, /-/codes, /-/compare, /-/matrix, /-/changes).

Each function takes a sqlite3 connection to a built payerkb database and returns plain dicts and
lists: the HTML pages render them and their JSON twins serialise them unchanged, so a page and its
.json always agree. Functions return None when the thing asked for does not exist (the page
answers 404) and raise ValueError for bad input (the page answers 400).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

from db import matrix as cells
from db.as_of import stale_before
from db.schema import TOPICS
from formats.vocabulary import REQUIREMENTS
import payerkb.answer as answer
import payerkb.drug_queries as drug_queries

JSON_LIST_COLUMNS = (
    "codes", "claim_field", "modifiers", "ndc_unit_qualifiers", "narrative_elements",
    "narrative_rejects", "denial_codes", "exceptions",
)
# Rule fields compared across payers on /-/compare: the ones a biller acts on.
COMPARED_FIELDS = (
    "requirement", "setting", "threshold_usd", "pricing_basis", "percent", "claim_field",
    "max_chars", "unit_rule", "modifiers", "ndc_unit_qualifiers", "ndc_format",
    "narrative_elements", "narrative_rejects", "invoice_max_age_days", "submission_channel",
    "exceptions",
)
CHANGES_PAGE_SIZE = 100
CODE_PAGE_PAYERS = 100
MATRIX_PAGE_SIZE = 200
PAYERS_PAGE_SIZE = 500
MAX_COMPARED_PAYERS = 8


def _rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _one(conn: sqlite3.Connection, sql: str, params=()) -> dict | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return bool(conn.execute(
        "select 1 from sqlite_master where type in ('table', 'view') and name = ?", [name]
    ).fetchone())


def _loads(value):
    return json.loads(value) if value else []


def _topic_order(topic: str) -> int:
    return TOPICS.index(topic) if topic in TOPICS else len(TOPICS)


# --- payers ---------------------------------------------------------------------------------

def _shape_payer(row: dict) -> dict:
    payer = dict(row)
    for col in ("states", "aliases", "includes"):
        if col in payer:
            payer[col] = _loads(payer[col])
    payer["path"] = f"/-/payers/{payer['id']}"
    return payer


def _payer_filter(payer_type: str | None, state: str | None, alias: str = "p") -> tuple[str, dict]:
    """SQL condition on payers for the payer type / state filters, with its named parameters. A
    payer with no states listed (Medicare national, for one) covers every state, so a state filter
    keeps it."""
    where, params = [], {}
    if payer_type:
        where.append(f"{alias}.payer_type = :payer_type")
        params["payer_type"] = payer_type
    if state:
        where.append(
            f"(exists (select 1 from payer_states ps where ps.payer_id = {alias}.id and ps.state = :state)"
            f" or not exists (select 1 from payer_states ps where ps.payer_id = {alias}.id))"
        )
        params["state"] = state.upper()
    return (" and ".join(where) or "1"), params


def _paging(total: int, page: int, size: int) -> dict:
    """Which page of `total` rows, `size` a page, is shown: page numbers past the end show the last."""
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    return {"page": page, "pages": pages, "page_size": size, "offset": (page - 1) * size}


def payer_list(conn, payer_type: str | None = None, state: str | None = None, page: int = 1) -> dict:
    """The payers (filtered), PAYERS_PAGE_SIZE a page."""
    where, params = _payer_filter(payer_type, state)
    total = conn.execute(f"select count(*) from payers p where {where}", params).fetchone()[0]
    paging = _paging(total, page, PAYERS_PAGE_SIZE)
    payers = [_shape_payer(p) for p in _rows(conn, f"""
        select p.id, p.name, p.parent_org, p.payer_type, p.states, p.jurisdiction,
          (select count(*) from rules r where r.payer_id = p.id and r.origin != 'gap') as rules,
          (select count(*) from rules r where r.payer_id = p.id and r.origin = 'gap') as gaps
        from payers p where p.id in (select p.id from payers p where {where}
              order by p.payer_type, p.name limit :limit offset :offset) order by p.payer_type, p.name""",
        {**params, "limit": PAYERS_PAGE_SIZE, "offset": paging.pop("offset")})]
    return {"filters": {"payer_type": payer_type, "state": state}, "payers": payers,
            "payer_count": total, **paging, "facets": _payer_facets(conn)}


def _payer_facets(conn) -> dict:
    types = _rows(conn, "select payer_type as value, count(*) as count from payers group by payer_type order by payer_type")
    states = _rows(conn, "select state as value, count(*) as count from payer_states group by state order by state")
    return {"payer_type": types, "state": states}


# --- rules and their sources ----------------------------------------------------------------

def _sources_for(conn, rule_ids_sql: str, params, today: dt.date | None) -> dict[str, list[dict]]:
    cutoff = stale_before(today)
    by_rule: dict[str, list[dict]] = {}
    for row in _rows(conn, f"""
        select rs.rule_id, rs.locator, s.id, s.url, s.title, s.publisher, s.document_id,
          s.doc_date, s.undated, s.retrieved, s.kind
        from rule_sources rs join sources s on s.id = rs.source_id
        where rs.rule_id in ({rule_ids_sql})
        order by s.kind = 'official' desc, s.doc_date desc, s.id""", params):
        rule_id = row.pop("rule_id")
        row["undated"] = bool(row["undated"])
        row["stale"] = bool(row["doc_date"] and row["doc_date"] < cutoff)
        by_rule.setdefault(rule_id, []).append(row)
    return by_rule


def _claim_field_labels(conn) -> dict[str, str]:
    return {r["id"]: r["label"] for r in _rows(conn, "select id, label from claim_fields")}


def _shape_rule(row: dict, sources: dict, labels: dict, cutoff: str) -> dict:
    rule = dict(row)
    for col in JSON_LIST_COLUMNS:
        if col in rule:
            rule[col] = _loads(rule[col])
    rule["claim_fields"] = [{"id": f, "label": labels.get(f, f)} for f in rule.get("claim_field", [])]
    rule["sources"] = sources.get(rule["id"], [])
    rule["stale"] = bool(rule["as_of"] and rule["source_count"] and rule["as_of"] < cutoff
                         and any(s["doc_date"] for s in rule["sources"]))
    flags = []
    if rule["origin"] == "gap":
        flags.append("gap")
    elif rule["status"] in ("unconfirmed", "conflicting", "superseded", "needs_review"):
        flags.append(rule["status"])
    if rule["stale"]:
        flags.append("stale")
    if rule["origin"] == "scraped":
        flags.append("scraped")
    rule["flags"] = flags
    rule["anchor"] = f"rule-{rule['rule_key']}"
    return rule


def _rules(conn, where: str, params: list, today: dt.date | None, extra_cols: str = "",
           joins: str = "") -> list[dict]:
    base = f"from rules r {joins} where {where}"
    rows = _rows(conn, f"select r.* {extra_cols} {base}", params)
    sources = _sources_for(conn, f"select r.id {base}", params, today)
    labels = _claim_field_labels(conn)
    cutoff = stale_before(today)
    noc = {c for (c,) in conn.execute("select code from codes where is_noc = 1")}
    rules = [_shape_rule(row, sources, labels, cutoff) for row in rows]
    for rule in rules:
        rule["all_noc_codes"] = bool(noc) and noc <= set(rule["codes"])
    rules.sort(key=lambda r: (_topic_order(r["topic"]), r["origin"] == "scraped",
                              r["status"] == "superseded", r["setting"], r["rule_key"]))
    return rules


def _by_topic(rules: list[dict], row: dict) -> list[dict]:
    """The payer's rules per topic, each topic with its matrix cell and footing (`row`, from
    matrix_rows: db/matrix.py decides them, as everywhere)."""
    topics = []
    for topic in TOPICS:
        in_topic = [r for r in rules if r["topic"] == topic]
        known = [r for r in in_topic if r["origin"] != "gap"]
        topics.append({
            "topic": topic,
            "gap": not known,
            "requirement": row["cells"][topic],
            "footing": row["footing"][topic],
            "drug_list_drugs": row["drug_list_drugs"] if topic == "prior_auth" else 0,
            "rules": known or in_topic,
        })
    return topics


# --- pages ----------------------------------------------------------------------------------

def summary(conn, today: dt.date | None = None) -> dict:
    counts = _one(conn, """
        select (select count(*) from payers) as payers,
          (select count(*) from rules where origin != 'gap') as rules,
          (select count(*) from rules where origin = 'gap') as gaps,
          (select count(*) from sources) as sources,
          (select count(*) from rules where status = 'conflicting') as conflicting,
          (select count(*) from rules where status = 'unconfirmed' and origin != 'gap') as unconfirmed,
          (select count(*) from sources where doc_date < ?) as stale_sources""", [stale_before(today)])
    fresh = _one(conn, """
        select max(as_of) as newest_as_of, min(as_of) as oldest_as_of
        from rules where origin != 'gap' and as_of is not null and not as_of_undated""")
    fresh["last_retrieved"] = conn.execute("select max(retrieved) from sources").fetchone()[0]
    codes = _rows(conn, "select code, short_descriptor from codes order by code = 'J3590' desc, code")
    for c in codes:
        c["path"] = f"/-/codes/{c['code']}"
    recent = changes(conn, limit=5)["changes"] if has_table(conn, "changes") else []
    return {"counts": counts, "freshness": fresh, "codes": codes,
            "payer_types": _payer_facets(conn)["payer_type"], "recent_changes": recent}


def payer_page(conn, payer_id: str, today: dt.date | None = None, code: str | None = None,
               date: str | None = None) -> dict | None:
    """A payer and all its rules by topic; with code, only the rules that cover that code. Its drug
    rules (those needing prior authorization first) follow, by code and, with date, only those in
    effect on that date of service. Raises ValueError for a code payerkb does not cover or a bad date."""
    date = drug_queries.check_date(date)
    row = _one(conn, "select * from payers where id = ?", [payer_id])
    if row is None:
        return None
    payer = _shape_payer(row)
    if code:
        code = code.upper()
        if not _one(conn, "select code from codes where code = ?", [code]):
            raise ValueError(f"code: {code!r} is not one of the NOC codes payerkb covers")
        rules = _rules(conn, "r.payer_id = ? and exists (select 1 from rule_codes rc where rc.rule_id = r.id"
                             " and rc.code = ?)", [payer_id, code], today)
    else:
        rules = _rules(conn, "r.payer_id = ?", [payer_id], today)
    groups = _rows(conn, """
        select group_id as id, count(*) as rules from rules
        where payer_id = ? and group_id is not null group by group_id""", [payer_id])
    counts = {g["id"]: g["rules"] for g in groups}
    payer["groups"] = [{"id": g, "rules": counts.get(g, 0)} for g in payer["includes"]]
    codes = [c for (c,) in conn.execute("select code from codes order by code = 'J3590' desc, code")]
    # the payer's matrix row (for the code): the at-a-glance words are the matrix's (db/matrix.py)
    row = matrix_rows(conn, "select * from payers p where p.id = :payer_id", {"payer_id": payer_id}, code)[0]
    topics = _by_topic(rules, row)
    drug_rules = drug_queries.payer_drug_rules(conn, payer_id, code, date, today)
    unknown = [t["topic"] for t in topics if t["gap"] and t["requirement"] == "unknown"]
    return {"payer": payer, "code": code, "date": date, "codes": codes, "topics": topics,
            "unknown_topics": unknown, "drug_rules": drug_rules}


OPPS_MEANINGS = {
    # Our short wording of CMS's OPPS status indicator meanings (Addendum D1).
    "A": "paid under a fee schedule or payment system other than OPPS",
    "B": "not recognised by OPPS on an outpatient hospital Part B bill (12x/13x)",
    "E1": "not covered, not paid under OPPS",
    "E2": "no pricing information or claims data, not paid under OPPS",
    "G": "pass-through drug or biological, paid separately",
    "K": "non-pass-through drug or biological, paid separately",
    "M": "not billable to the MAC",
    "N": "packaged: paid as part of other services, not separately",
}
DRUG_KIND_USE = {
    "biologic": "an unclassified biologic",
    "drug": "an unclassified drug",
    "antineoplastic": "an unclassified anti-cancer (chemotherapy) drug",
    "oral_chemo": "an oral anti-cancer drug",
    "oral_non_chemo": "an oral prescription drug that is not for chemotherapy",
    "oral_antiemetic": "an oral anti-nausea drug",
    "rectal_antiemetic": "a rectal anti-nausea drug",
    "compounded": "a compounded drug",
    "immunosuppressive": "an immunosuppressive drug",
    "inhalation_dme": "an inhalation solution given through DME",
    "non_inhalation_dme": "a drug given through DME other than by inhalation",
    "esrd": "a drug for an ESRD patient on dialysis",
    "clotting_factor": "a clotting factor",
    "immune_globulin": "an immune globulin",
    "radiopharmaceutical_diagnostic": "a diagnostic radiopharmaceutical",
    "radiopharmaceutical_therapeutic": "a therapeutic radiopharmaceutical",
    "contrast": "a non-radioactive contrast material",
}
SETTING_USE = {
    "outpatient_facility": "billed by a hospital outpatient department",
    "professional": "billed by a physician office",
    "asc": "billed by an ambulatory surgical center",
    "dme": "billed by a DME supplier",
}


def _code_use(code: dict) -> str:
    what = DRUG_KIND_USE.get(code["drug_kind"], code["category"] or "this kind of drug")
    where = SETTING_USE.get(code["setting"])
    return f"for {what}" + (f", {where}" if where else "")


def _opps(conn, code: dict) -> dict:
    """The OPPS status indicator: from the newest CMS Addendum B rows when they are loaded,
    else from policies/reference/codes.yml."""
    opps = {"status_indicator": code["opps_status_indicator"], "apc": None, "payment_rate": None,
            "quarter": None, "from": "codes"}
    if has_table(conn, "opps_status_indicators"):
        row = _one(conn, """select quarter, status_indicator, apc, payment_rate
            from opps_status_indicators where hcpcs = ? order by quarter desc limit 1""", [code["code"]])
        if row:
            opps.update(row, **{"from": "opps_status_indicators"})
    si = (opps["status_indicator"] or "").strip()
    opps["status_indicator"] = si or None
    opps["meaning"] = OPPS_MEANINGS.get(si)
    return opps


def code_list(conn) -> dict:
    codes = _rows(conn, """
        select c.code, c.short_descriptor, c.category, c.drug_kind, c.setting,
          c.opps_status_indicator, c.add_date, c.term_date
        from codes c order by c.code = 'J3590' desc, c.code""")
    for c in codes:
        c["path"] = f"/-/codes/{c['code']}"
        c["use"] = _code_use(c)
    return {"codes": codes}


_NAMING: dict[tuple, list] = {}  # (database file, code) -> its payers, while that file is served


def _database_file(conn) -> tuple | None:
    """The database file's identity (path, inode, modification time): a rebuilt database is renamed
    into place, so it is another file. None for an in-memory database."""
    path = next((row[2] for row in conn.execute("pragma database_list") if row[1] == "main"), "")
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (path, st.st_ino, st.st_mtime_ns) if st else None


def _payers_naming(conn, code: str) -> list[tuple[str, str]]:
    """(payer id, payer type) of every payer with a rule or gap row naming the code, in page order.
    Asking each of 100,000 payers takes seconds, so the answer is kept while the same database
    file is served (Datasette serves it immutable)."""
    file = _database_file(conn)
    key = (*file, code) if file else None
    if key in _NAMING:
        return _NAMING[key]
    found = [tuple(r) for r in conn.execute("""select p.id, p.payer_type from payers p
        where exists (select 1 from rules r join rule_codes rc on rc.rule_id = r.id and rc.code = ?
          where r.payer_id = p.id)
        order by p.payer_type, p.name""", [code])]
    if key:
        if len(_NAMING) >= 64:
            _NAMING.clear()
        _NAMING[key] = found
    return found


def code_page(conn, code: str, payer_type: str | None = None, state: str | None = None,
              page: int = 1, today: dt.date | None = None) -> dict | None:
    row = _one(conn, "select * from codes where code = ?", [code.upper()])
    if row is None:
        return None
    row["sources"] = _loads(row["sources"])
    row["use"] = _code_use(row)
    alternatives = _rows(conn, """select code, short_descriptor, drug_kind, setting, category
        from codes where code != ? order by code""", [row["code"]])
    for alt in alternatives:
        alt["use"] = _code_use(alt)
        alt["path"] = f"/-/codes/{alt['code']}"
    covering = _payers_naming(conn, row["code"])
    if payer_type or state:
        where, params = _payer_filter(payer_type, state)
        kept = {pid for (pid,) in conn.execute(f"select p.id from payers p where {where}", params)}
        covering = [(pid, kind) for pid, kind in covering if pid in kept]
    total = len(covering)
    paging = _paging(total, page, CODE_PAGE_PAYERS)
    offset = paging.pop("offset")
    on_page = [pid for pid, _ in covering[offset:offset + CODE_PAGE_PAYERS]]
    # the page's payers, each with its matrix row for this code (db/matrix.py decides the cells)
    payers = matrix_rows(conn, """select * from payers p where p.id in (select value from json_each(:ids))
        order by p.payer_type, p.name""", {"ids": json.dumps(on_page)}, code=row["code"])
    ids = [p["id"] for p in payers]
    full = {p["id"]: _shape_payer(p) for p in _rows(
        conn, "select * from payers where id in (select value from json_each(?))", [json.dumps(ids)])}
    for payer in payers:
        payer.update({k: v for k, v in full[payer["id"]].items() if k not in payer})
    rules = _rules(
        conn,
        f"rc.code = ? and r.payer_id in (select value from json_each(?))",
        [row["code"], json.dumps(ids)], today,
        joins="join rule_codes rc on rc.rule_id = r.id",
    ) if ids else []
    for payer in payers:
        own = [r for r in rules if r["payer_id"] == payer["id"]]
        payer["rules"] = [r for r in own if r["origin"] != "gap"]
        payer["prior_auth"] = payer["cells"]["prior_auth"]
        payer["detail_path"] = f"/-/payers/{payer['id']}?code={row['code']}"
        payer["drug_list_path"] = f"/-/payers/{payer['id']}?code={row['code']}#drugs"
        payer["gaps"] = [r["topic"] for r in own if r["origin"] == "gap"
                         and not (r["topic"] == "prior_auth" and payer["prior_auth"] == cells.DRUG_LIST)]
    kinds: dict[str, int] = {}
    for _, kind in _payers_naming(conn, row["code"]):
        kinds[kind] = kinds.get(kind, 0) + 1
    facets = [{"value": k, "count": n} for k, n in sorted(kinds.items())]
    return {
        "code": row, "opps": _opps(conn, row), "alternatives": alternatives,
        "filters": {"payer_type": payer_type, "state": state.upper() if state else None},
        "facets": {"payer_type": facets, "state": _payer_facets(conn)["state"]},
        "topics": list(TOPICS), "payers": payers, "payer_count": total, **paging,
    }


def _fingerprint(rules: list[dict], field: str) -> tuple:
    """What a payer's rules say for one field, ignoring rules that leave it empty."""
    values = {json.dumps(r.get(field), sort_keys=True) for r in rules if r.get(field) not in (None, [], "")}
    return tuple(sorted(values))


def compare(conn, payer_ids: list[str], code: str = "J3590", today: dt.date | None = None) -> dict:
    """Payers side by side per topic for one code. Raises LookupError naming an unknown payer or
    code, ValueError when fewer than two payers are asked for."""
    payer_ids = list(dict.fromkeys(p.strip() for p in payer_ids if p.strip()))
    if len(payer_ids) < 2:
        raise ValueError("payers: give at least two payer ids separated by commas, e.g. payers=a,b")
    if len(payer_ids) > MAX_COMPARED_PAYERS:
        raise ValueError(f"payers: compare at most {MAX_COMPARED_PAYERS} payers at once")
    code = code.upper()
    if not _one(conn, "select code from codes where code = ?", [code]):
        raise LookupError(f"code: {code!r} is not a NOC code payerkb knows")
    payers = []
    for pid in payer_ids:
        row = _one(conn, "select * from payers where id = ?", [pid])
        if row is None:
            raise LookupError(f"payers: no payer with id {pid!r}")
        payers.append(_shape_payer(row))
    rules = _rules(
        conn,
        "rc.code = ? and r.status != 'superseded' and r.origin != 'scraped' "
        "and r.payer_id in (select value from json_each(?))",
        [code, json.dumps(payer_ids)], today, joins="join rule_codes rc on rc.rule_id = r.id")
    # each payer's cells for the code, as the matrix decides them (db/matrix.py)
    decided = {p["id"]: p for p in matrix_rows(
        conn, "select * from payers p where p.id in (select value from json_each(:ids))",
        {"ids": json.dumps(payer_ids)}, code)}
    topics = []
    for topic in TOPICS:
        cells = []
        for payer in payers:
            own = [r for r in rules if r["payer_id"] == payer["id"] and r["topic"] == topic]
            known = [r for r in own if r["origin"] != "gap"]
            cell = decided[payer["id"]]
            cells.append({"payer_id": payer["id"], "requirement": cell["cells"][topic],
                          "footing": cell["footing"][topic], "rules": known, "gap": not known})
        differs = [f for f in COMPARED_FIELDS
                   if len({_fingerprint(c["rules"], f) for c in cells}) > 1]
        topics.append({"topic": topic, "cells": cells, "differs": bool(differs),
                       "differing_fields": differs})
    return {"code": code, "payers": payers, "topics": topics}


def matrix_rows(conn, payers_sql: str, params: dict, code: str | None = None,
                setting: str | None = None, date: str | None = None) -> list[dict]:
    """Each payer of `payers_sql` (a select of payers rows, aliased p inside) with every topic's cell
    and footing, decided by db/matrix.py: the payer_matrix view's SQL, narrowed to a code, setting
    and date of service when given."""
    sql = cells.select_sql(TOPICS, payers=f"({payers_sql})", code=":code" if code else None,
                           setting=":setting" if setting else None, date=":date" if date else None)
    out = []
    for row in _rows(conn, sql, {**params, "code": code, "setting": setting, "date": date}):
        payer = _shape_payer({"id": row["payer_id"], "name": row["payer_name"], "payer_type": row["payer_type"],
                              "states": row["states"], "jurisdiction": row["jurisdiction"]})
        payer["cells"] = {t: row[t] for t in TOPICS}
        payer["footing"] = {t: row[f"{t}_footing"] for t in TOPICS}
        payer["drug_list_drugs"] = row["prior_auth_drugs"]
        out.append(payer)
    return out


def check_context(conn, code: str | None, setting: str | None, date: str | None) -> tuple:
    """The claim-context filters checked as the answer checks them (ValueError naming the parameter)."""
    return answer.check_code(conn, code), answer.check_setting(setting), answer.check_date(date)


def matrix(conn, payer_type: str | None = None, state: str | None = None, code: str | None = None,
           setting: str | None = None, date: str | None = None, page: int | None = 1) -> dict:
    """Every payer (filtered) × topic: one word and its footing per cell, as db/matrix.py decides
    it, MATRIX_PAGE_SIZE payers a page (page None: every payer, for the CSV). ValueError for a bad
    code, setting or date."""
    code, setting, date = check_context(conn, code, setting, date)
    where, params = _payer_filter(payer_type, state)
    total = conn.execute(f"select count(*) from payers p where {where}", params).fetchone()[0]
    paging = _paging(total, page or 1, MATRIX_PAGE_SIZE if page else max(total, 1))
    # the page's ids sorted alone (sorting whole rows of 100,000 payers costs twice as much)
    payers_sql = (f"select * from payers where id in (select p.id from payers p where {where} "
                  "order by p.payer_type, p.name limit :limit offset :offset)")
    payers = matrix_rows(conn, payers_sql, {**params, "limit": paging["page_size"], "offset": paging.pop("offset")},
                         code, setting, date)
    return {"filters": {"payer_type": payer_type, "state": state.upper() if state else None,
                        "code": code, "setting": setting, "date": date},
            "topics": list(TOPICS), "footings": list(cells.FOOTINGS), "payers": payers,
            "payer_count": total, **paging, "facets": _payer_facets(conn),
            "choices": {"codes": [c for (c,) in conn.execute("select code from codes order by code = 'J3590' desc, code")],
                        "settings": [s for s in answer.SETTINGS]}}


def changes(conn, kind: str | None = None, payer: str | None = None, limit: int = CHANGES_PAGE_SIZE,
            page: int = 1) -> dict:
    if not has_table(conn, "changes"):
        return {"available": False, "changes": [], "total": 0, "page": 1, "pages": 1, "kinds": [],
                "filters": {"kind": kind, "payer": payer}}
    where, params = ["1"], []
    if kind:
        where.append("c.kind = ?")
        params.append(kind)
    if payer:
        where.append("c.payer_id = ?")
        params.append(payer)
    cond = " and ".join(where)
    total = conn.execute(f"select count(*) from changes c where {cond}", params).fetchone()[0]
    page = max(1, page)
    rows = _rows(conn, f"""
        select c.*, p.name as payer_name from changes c left join payers p on p.id = c.payer_id
        where {cond} order by c.changed_at desc, c.id desc limit ? offset ?""",
        [*params, limit, (page - 1) * limit])
    for row in rows:
        row["payer_path"] = f"/-/payers/{row['payer_id']}" if row.get("payer_id") else None
    kinds = _rows(conn, "select kind as value, count(*) as count from changes group by kind order by kind")
    return {"available": True, "changes": rows, "total": total, "page": page,
            "pages": max(1, -(-total // limit)), "kinds": kinds,
            "filters": {"kind": kind, "payer": payer}}
