"""The SQL behind the drug pages (/-/drugs, /-/drugs/<id>) and the drug sections of the payer,
code and matrix pages. Like payerkb.queries: plain dicts for a page and its JSON twin, None when
the drug does not exist, ValueError for bad input.
"""
from __future__ import annotations

import datetime as dt
import json

from db import matrix
from db.as_of import stale_before
from formats.fields import iso_date
from formats.vocabulary import DRUG_TOPIC_LABELS

PA_REQUIREMENTS = ("required", "conditional")


def _rows(conn, sql: str, params=()) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def has_drug_tables(conn) -> bool:
    return bool(conn.execute("select 1 from sqlite_master where type = 'table' and name = 'drug_rules'").fetchone())


def check_date(value: str | None, name: str = "date") -> str | None:
    """An ISO date of service, or ValueError naming the parameter."""
    if not value:
        return None
    return iso_date(value, name)


def in_effect(rule: dict, date: str) -> bool:
    return rule["effective_from"] <= date and (not rule["effective_to"] or date <= rule["effective_to"])


def _day_before(iso: str) -> str:
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=1)).isoformat()


def _sources(conn, rule_ids: list[str], today: dt.date | None) -> dict[str, list[dict]]:
    cutoff = stale_before(today)
    out: dict[str, list[dict]] = {}
    if not rule_ids:
        return out
    for row in _rows(conn, """
        select ds.drug_rule_id, ds.locator, s.id, s.url, s.title, s.publisher, s.document_id,
          s.doc_date, s.undated, s.retrieved, s.kind
        from drug_rule_sources ds join sources s on s.id = ds.source_id
        where ds.drug_rule_id in (select value from json_each(?))
        order by s.kind = 'official' desc, s.doc_date desc, s.id""", [json.dumps(rule_ids)]):
        rid = row.pop("drug_rule_id")
        row["undated"] = bool(row["undated"])
        row["stale"] = bool(row["doc_date"] and row["doc_date"] < cutoff)
        out.setdefault(rid, []).append(row)
    return out


def _shape(rows: list[dict], conn, today: dt.date | None) -> list[dict]:
    sources = _sources(conn, [r["id"] for r in rows], today)
    date = (today or dt.date.today()).isoformat()
    for r in rows:
        r["codes"] = json.loads(r["codes"]) if r["codes"] else []
        r["sources"] = sources.get(r["id"], [])
        r["topic_label"] = DRUG_TOPIC_LABELS.get(r["topic"], r["topic"].replace("_", " "))
        r["in_effect_today"] = in_effect(r, date) and r["status"] != "superseded"
        r["payer_path"] = f"/-/payers/{r['payer_id']}"
        r["drug_path"] = f"/-/drugs/{r['drug_id']}"
        r["anchor"] = f"drug-rule-{r['rule_key']}"
    return rows


def _drug_rules(conn, where: str, params: list, today: dt.date | None, order: str) -> list[dict]:
    rows = _rows(conn, f"""
        select d.*, g.brand_name, g.generic_name from drug_rules d join drugs g on g.id = d.drug_id
        where {where} order by {order}""", params)
    return _shape(rows, conn, today)


def _filters(code: str | None, date: str | None) -> tuple[str, list]:
    where, params = [], []
    if code:
        where.append("exists (select 1 from drug_rule_codes dc where dc.drug_rule_id = d.id and dc.code = ?)")
        params.append(code.upper())
    if date:
        where.append("d.effective_from <= ? and (d.effective_to is null or ? <= d.effective_to)")
        params += [date, date]
    return " and ".join(where) or "1", params


def payer_drug_rules(conn, payer_id: str, code: str | None = None, date: str | None = None,
                     today: dt.date | None = None) -> dict:
    """The payer's drug rules for its page: those needing prior authorization, then the others;
    code keeps the rules naming that code, date those in effect on that date of service."""
    if not has_drug_tables(conn):
        return {"prior_auth": [], "other": [], "filters": {"code": code, "date": date}, "total": 0}
    cond, params = _filters(code, date)
    rules = _drug_rules(conn, f"d.payer_id = ? and {cond}", [payer_id, *params], today,
                        "g.brand_name collate nocase, d.topic, d.effective_from")
    pa = [r for r in rules if r["topic"] == "prior_auth" and r["requirement"] in PA_REQUIREMENTS]
    total = conn.execute("select count(*) from drug_rules where payer_id = ?", [payer_id]).fetchone()[0]
    return {"prior_auth": pa, "other": [r for r in rules if r not in pa],
            "filters": {"code": code.upper() if code else None, "date": date}, "total": total}


def drug_list_counts(conn, code: str | None = None, payer_ids: list[str] | None = None) -> dict[str, int]:
    """payer id -> number of drugs on its prior-authorization drug list (for one code if given)."""
    if not has_drug_tables(conn):
        return {}
    where, params = [matrix.LIVE_DRUG_PA], []
    if code:
        where.append("exists (select 1 from drug_rule_codes dc where dc.drug_rule_id = d.id and dc.code = ?)")
        params.append(code.upper())
    if payer_ids is not None:
        where.append("d.payer_id in (select value from json_each(?))")
        params.append(json.dumps(payer_ids))
    return {pid: n for pid, n in conn.execute(
        f"select d.payer_id, count(distinct d.drug_id) from drug_rules d where {' and '.join(where)} "
        "group by d.payer_id", params)}


# --- the drug pages -------------------------------------------------------------------------------

def drug_list(conn) -> dict:
    if not has_drug_tables(conn):
        return {"drugs": [], "total": 0}
    drugs = _rows(conn, f"""
        select g.id, g.brand_name, g.generic_name, g.hcpcs_code, g.hcpcs_code_from,
          g.crosswalk_hcpcs_code, g.crosswalk_quarter,
          count(distinct d.payer_id) as payers, count(d.id) as rules,
          count(distinct case when {matrix.LIVE_DRUG_PA} then d.payer_id end) as prior_auth_payers,
          min(d.effective_from) as first_rule_from
        from drugs g left join drug_rules d on d.drug_id = g.id
        group by g.id order by g.brand_name collate nocase""")
    for d in drugs:
        d["path"] = f"/-/drugs/{d['id']}"
        d["own_code"] = d["hcpcs_code"] or d["crosswalk_hcpcs_code"]
    return {"drugs": drugs, "total": len(drugs)}


def _history(drug: dict, rules: list[dict]) -> dict:
    """When the drug was billed on NOC codes and since when on a code of its own."""
    noc = sorted({c for r in rules for c in r["codes"]})
    first = min((r["effective_from"] for r in rules), default=None)
    steps = []
    if noc:
        steps.append({"codes": noc, "kind": "noc", "from": first, "to": None, "basis": "drug_rules"})
    noc_words = " or ".join(noc) if noc else "a NOC code"
    own, xwalk = drug["hcpcs_code"], drug["crosswalk_hcpcs_code"]
    if own:
        if drug["hcpcs_code_from"] and noc:
            steps[0]["to"] = _day_before(drug["hcpcs_code_from"])
        steps.append({"codes": [own], "kind": "own", "from": drug["hcpcs_code_from"], "to": None, "basis": "drug file"})
        if drug["hcpcs_code_from"]:
            text = f"Billed on {noc_words} until {_day_before(drug['hcpcs_code_from'])}; {own} since {drug['hcpcs_code_from']}."
        else:
            text = f"Billed on {noc_words} until it had a code of its own; {own} now (its start date is not recorded here)."
        if xwalk and xwalk != own:
            text += f" The CMS NDC–HCPCS crosswalk for {drug['crosswalk_quarter']} lists it under {xwalk}."
            steps.append({"codes": [xwalk], "kind": "crosswalk", "from": drug["crosswalk_quarter"], "to": None,
                          "basis": f"ndc_hcpcs_crosswalk {drug['crosswalk_quarter']}"})
    elif xwalk:
        steps.append({"codes": [xwalk], "kind": "crosswalk", "from": drug["crosswalk_quarter"], "to": None,
                      "basis": f"ndc_hcpcs_crosswalk {drug['crosswalk_quarter']}"})
        text = (f"Billed on {noc_words} until {drug['crosswalk_quarter']} at the latest; {xwalk} since "
                f"{drug['crosswalk_quarter']} at the latest (the CMS NDC–HCPCS crosswalk for "
                f"{drug['crosswalk_quarter']} lists it, matched on its {'NDC' if drug['crosswalk_match'] == 'ndc' else 'name'}).")
    else:
        text = (f"Billed on {noc_words}" + (f" (payers' rules from {first})" if first else "")
                + "; payerkb knows no code of its own for it.")
    return {"steps": steps, "text": text, "own_code": own or xwalk, "noc_codes": noc}


def drug_page(conn, drug_id: str, today: dt.date | None = None) -> dict | None:
    if not has_drug_tables(conn):
        return None
    found = _rows(conn, "select * from drugs where id = ?", [drug_id])
    if not found:
        return None
    drug = found[0]
    for col in ("aliases", "ndcs"):
        drug[col] = json.loads(drug[col]) if drug[col] else []
    cutoff = stale_before(today)
    drug["sources"] = _rows(conn, """
        select ds.locator, s.id, s.url, s.title, s.publisher, s.document_id, s.doc_date, s.undated,
          s.retrieved, s.kind
        from drug_sources ds join sources s on s.id = ds.source_id where ds.drug_id = ?
        order by s.kind = 'official' desc, s.doc_date desc, s.id""", [drug_id])
    for s in drug["sources"]:
        s["undated"] = bool(s["undated"])
        s["stale"] = bool(s["doc_date"] and s["doc_date"] < cutoff)
    rules = _drug_rules(conn, "d.drug_id = ?", [drug_id], today,
                        "d.payer_name collate nocase, d.topic, d.effective_from")
    payers: list[dict] = []
    for r in rules:
        if not payers or payers[-1]["id"] != r["payer_id"]:
            payers.append({"id": r["payer_id"], "name": r["payer_name"], "path": r["payer_path"], "rules": []})
        payers[-1]["rules"].append(r)
    return {"drug": drug, "history": _history(drug, rules), "payers": payers,
            "payer_count": len(payers), "rule_count": len(rules)}


def drug_for_ndc(conn, text: str) -> str | None:
    """The id of the drug whose file names this NDC (any form payerkb.ndc reads), else None."""
    from payerkb.ndc import NdcError, normalize

    try:
        ndc11 = normalize(text).ndc_11
    except NdcError:
        return None
    row = conn.execute("select drug_id from drug_ndcs where ndc11 = ? order by drug_id limit 1", [ndc11]).fetchone()
    return row[0] if row else None
