"""The claim-context answer: what one payer requires for one code, date of service, setting and drug.

    answer(conn, "medicare-palmetto-jj", code="J3590", date="2026-03-01", setting="professional",
           drug="Qalsody")  ->  dict (None when the payer does not exist)

Every parameter but the payer is optional. For each of the ten topics (db.schema.TOPICS, in order)
the answer holds one line: the payer's rules in effect for that code, date and setting, with their
typed values, effective dates, sources (official / secondary, the source's own date or "undated,
read <date>") and a footing (official / secondary only / unconfirmed). Rules that cover the code and
setting but not the date, and superseded rules, go to the line's `history`, never into the answer.
Gap rows ("no source found yet") are folded into `unknown_topics`.

Which rules are in effect is decided exactly as the claim check decides it (payerkb/check.py):
the rules come from payerkb.check_kb.Knowledge.rules_for (superseded rules and scraped rules a
manual rule overrides left out) and each is tested with check_kb.Rule.applies (a rule's codes must
include the code, its setting is the claim's or `any`, effective_from/effective_to bound the date).
Drug rules are tested with payerkb.check_drugs.DrugRule.applies; the drug rules of a payer are
loaded with check_drugs._index/_payer_rules, which are private: imported anyway, on purpose, so
there is one selection, not two.

Bad input raises ValueError whose message starts with the parameter's name (`date: ...`).
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import sqlite3
from urllib.parse import urlencode

from db.schema import TOPICS
from formats.fields import iso_date
from formats.vocabulary import DRUG_TOPIC_LABELS
import payerkb.ndc as ndclib
from payerkb.check_kb import JSON_LISTS, Rule, knowledge
from payerkb.claim import SETTINGS

MAX_DRUG_TEXT = 200
TOPIC_WORDS = {
    "prior_auth": "prior authorization", "invoice": "invoice", "pricing": "pricing", "ndc": "NDC",
    "narrative": "narrative", "units": "units", "modifiers": "modifiers", "documentation": "documentation",
    "submission": "submission", "coding": "coding",
}
SETTING_WORDS = {"professional": "professional", "outpatient_facility": "hospital outpatient",
                 "asc": "ASC", "dme": "DME", "any": "any setting"}
PRICING_WORDS = {
    "asp": "ASP", "asp_noc_file": "CMS ASP/NOC pricing file", "wac": "WAC", "awp": "AWP",
    "invoice": "invoice", "fee_schedule": "fee schedule", "ndc_fee_schedule": "NDC fee schedule",
    "billed_charges": "billed charges", "manual_review": "manual review",
}
UNIT_RULE_WORDS = {
    "one_unit": "bill 1 unit", "per_payer_billing_unit": "units in the payer's billing unit",
    "ndc_units": "units as NDC units", "per_container": "1 unit per container",
    "per_descriptor": "units as the descriptor defines them",
}
DRUG_TOPIC_WORDS = DRUG_TOPIC_LABELS
NDC_FORMAT_WORDS = {"11_digit_no_separators": "NDC as 11 digits, no dashes",
                    "5-4-2_with_dashes": "NDC as 5-4-2 with dashes"}
FOOTINGS = ("official", "secondary only", "unconfirmed")
VALUE_FIELDS = ("threshold_usd", "pricing_basis", "percent", "claim_fields", "max_chars", "unit_rule",
                "modifiers", "ndc_format", "ndc_unit_qualifiers", "narrative_elements", "invoice_max_age_days",
                "submission_channel", "exceptions")
DRUG_VALUE_FIELDS = ("criteria_id", "program", "reviewer", "billing_unit", "rate_usd", "ndc_units",
                     "ndc_unit_qualifier")
NDC_LIKE = re.compile(r"\s*(?:N4)?\s*[\d][\d\- ]*\s*", re.I)
CODE_FORM = re.compile(r"[A-Z][0-9]{4}")


def _rows(conn, sql: str, params=()) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _has_table(conn, name: str) -> bool:
    return bool(conn.execute("select 1 from sqlite_master where type in ('table', 'view') and name = ?",
                             [name]).fetchone())


# --- input --------------------------------------------------------------------------------------

def check_date(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return iso_date(value if isinstance(value, (str, dt.date)) else str(value), "date")


def check_setting(value) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    if text not in SETTINGS:
        raise ValueError(f"setting: {str(value)[:30]!r} is not one of {', '.join(SETTINGS)}")
    return text


def check_code(conn, value) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().upper()
    if not CODE_FORM.fullmatch(text):
        raise ValueError(f"code: {str(value)[:20]!r} is not a HCPCS code (a letter and four digits, e.g. J3590)")
    if not conn.execute("select 1 from codes where code = ?", [text]).fetchone():
        known = ", ".join(c for (c,) in conn.execute("select code from codes order by code"))
        raise ValueError(f"code: {text} is not one of the NOC codes payerkb covers ({known})")
    return text


# --- sources and footing ----------------------------------------------------------------------

def _sources(conn, link_table: str, key: str, ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not ids:
        return out
    for row in _rows(conn, f"""
            select l.{key} as owner, l.locator, s.id, s.url, s.title, s.publisher, s.kind, s.doc_date,
              s.undated, s.retrieved
            from {link_table} l join sources s on s.id = l.source_id
            where l.{key} in (select value from json_each(?))
            order by s.kind = 'official' desc, s.doc_date is null, s.doc_date desc, s.id""", [json.dumps(ids)]):
        owner = row.pop("owner")
        row["undated"] = bool(row["undated"]) or not row["doc_date"]
        row["date_text"] = source_date_text(row)
        out.setdefault(owner, []).append(row)
    return out


def source_date_text(source: dict) -> str:
    """'as of <the source's own date>', or 'undated, read <retrieved>': never 'as of' a read date."""
    if source.get("doc_date") and not source.get("undated"):
        return f"as of {source['doc_date']}"
    return f"undated, read {source.get('retrieved') or 'on an unknown date'}"


def footing(status: str, sources: list[dict]) -> str:
    if status in ("unconfirmed", "needs_review") or not sources:
        return "unconfirmed"
    return "official" if any(s["kind"] == "official" for s in sources) else "secondary only"


def _line_footing(items: list[dict]) -> str | None:
    """A line is as firm as its weakest rule."""
    if not items:
        return None
    return max((i["footing"] for i in items), key=FOOTINGS.index)


def _dated(sources: list[dict]) -> dict:
    """The newest date the sources show, or (all undated) the newest day they were read."""
    dates = [s["doc_date"] for s in sources if not s["undated"]]
    if dates:
        return {"as_of": max(dates), "undated_read": None, "date_text": f"as of {max(dates)}"}
    read = max((s["retrieved"] for s in sources if s.get("retrieved")), default=None)
    if not sources:
        return {"as_of": None, "undated_read": None, "date_text": "no source"}
    return {"as_of": None, "undated_read": read, "date_text": f"undated, read {read or 'on an unknown date'}"}


def dates_text(effective_from: str | None, effective_to: str | None) -> str:
    if effective_from and effective_to:
        return f"{effective_from} to {effective_to}"
    if effective_from:
        return f"from {effective_from}"
    if effective_to:
        return f"until {effective_to}"
    return "no effective dates"


# --- payer rules ------------------------------------------------------------------------------

def _rule_obj(row: dict) -> Rule:
    """A check_kb.Rule from a rules row (as check_kb._load_rules makes it), for Rule.applies."""
    data = {k: row.get(k) for k in Rule.__dataclass_fields__ if k in row and k not in ("codes", "sources")}
    for key in JSON_LISTS:
        if key in data:
            data[key] = json.loads(row[key]) if row.get(key) else []
    return Rule(**data, codes=frozenset(json.loads(row["codes"] or "[]")))


def _in_scope(rule: Rule, code: str | None, setting: str | None) -> bool:
    """The rule covers the code and setting (either may be None: any), whatever its dates:
    Rule.applies asked on a day inside the rule's own window."""
    some_code = code or next(iter(sorted(rule.codes)), "")
    day = rule.effective_from or rule.effective_to or "2000-01-01"
    return rule.applies(some_code, setting or rule.setting, day)


def _values(row: dict, labels: dict) -> dict:
    vals = {}
    for key in VALUE_FIELDS:
        if key == "claim_fields":
            fields = json.loads(row["claim_field"]) if row.get("claim_field") else []
            value = [{"id": f, "label": labels.get(f, f)} for f in fields]
        elif key in JSON_LISTS:
            value = json.loads(row[key]) if row.get(key) else []
        else:
            value = row.get(key)
        if value not in (None, "", []):
            vals[key] = value
    return vals


def value_text(values: dict) -> str:
    """The typed values in a few words: 'WAC 103%', 'over $500.00', 'in SV101-7, max 80 chars'."""
    parts = []
    if "pricing_basis" in values:
        basis = PRICING_WORDS.get(values["pricing_basis"], values["pricing_basis"])
        parts.append(basis + (f" {values['percent']:g}%" if "percent" in values else ""))
    elif "percent" in values:
        parts.append(f"{values['percent']:g}%")
    if "threshold_usd" in values:
        parts.append(f"over ${values['threshold_usd']:,.2f}")
    if "invoice_max_age_days" in values:
        parts.append(f"invoice at most {values['invoice_max_age_days']} days old")
    if "claim_fields" in values:
        parts.append("in " + " or ".join(f["label"] for f in values["claim_fields"]))
    if "max_chars" in values:
        parts.append(f"max {values['max_chars']} chars")
    if "narrative_elements" in values:
        parts.append("giving " + ", ".join(e.replace("_", " ") for e in values["narrative_elements"]))
    if "unit_rule" in values:
        parts.append(UNIT_RULE_WORDS.get(values["unit_rule"], values["unit_rule"].replace("_", " ")))
    if "modifiers" in values:
        parts.append("modifiers " + ", ".join(values["modifiers"]))
    if "ndc_format" in values:
        parts.append(NDC_FORMAT_WORDS.get(values["ndc_format"], values["ndc_format"]))
    if "ndc_unit_qualifiers" in values:
        parts.append("NDC unit " + "/".join(values["ndc_unit_qualifiers"]))
    if "submission_channel" in values:
        parts.append(f"{values['submission_channel']} submission")
    if "exceptions" in values:
        parts.append("except " + ", ".join(e.replace("_", " ") for e in values["exceptions"]))
    return "; ".join(parts)


def _shape_rule(row: dict, sources: dict, labels: dict, payer_id: str) -> dict:
    srcs = sources.get(row["id"], [])
    values = _values(row, labels)
    item = {
        "id": row["id"], "rule_key": row.get("rule_key"), "topic": row["topic"], "setting": row["setting"],
        "requirement": row["requirement"], "summary": row["summary"], "status": row["status"],
        "origin": row["origin"], "codes": json.loads(row["codes"] or "[]"),
        "effective_from": row["effective_from"], "effective_to": row["effective_to"],
        "dates_text": dates_text(row["effective_from"], row["effective_to"]),
        "values": values, "value_text": value_text(values),
        "footing": footing(row["status"], srcs), "conflicting": row["status"] == "conflicting",
        "sources": srcs, **_dated(srcs),
        "path": f"/-/payers/{payer_id}#rule-{row['rule_key']}" if row.get("rule_key") else f"/-/payers/{payer_id}",
    }
    return item


def _why_history(rule: Rule, date: str) -> str:
    if rule.status == "superseded":
        return "superseded" + (f" (ended {rule.effective_to})" if rule.effective_to else "")
    if rule.effective_from and date < rule.effective_from:
        return f"not yet in effect (from {rule.effective_from})"
    if rule.effective_to and date > rule.effective_to:
        return f"ended {rule.effective_to}"
    return "not in effect on this date"


def _requirement(items: list[dict]) -> str:
    if any(i["conflicting"] for i in items):
        return "conflicting"
    found = {i["requirement"] for i in items}
    return found.pop() if len(found) == 1 else "varies"


def _short(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "\u2026"


def rule_text(item: dict, show_setting: bool = True) -> str:
    """One rule in one stretch of words: requirement, value (else the summary, shortened), dates,
    setting, footing, source date."""
    bits = [item["requirement"].replace("_", " "), item["value_text"] or _short(item["summary"]), item["dates_text"]]
    bits = [b for b in bits if b]
    if show_setting and item.get("setting") and item["setting"] != "any":
        bits.append(SETTING_WORDS.get(item["setting"], item["setting"]))
    return (", ".join(bits) + f" [{item['footing']}; {item['date_text']}"
            + ("; CONFLICTING" if item["conflicting"] else "")
            + ("; needs review" if item["status"] == "needs_review" else "") + "]")


def _context_words(code, setting, date) -> str:
    return (f"{code or 'any code'} on {SETTING_WORDS.get(setting, setting) + ' claims' if setting else 'claims in any setting'}"
            f" on {date}")


# --- drugs ------------------------------------------------------------------------------------

def _norm(text: str | None) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def _quarter_start(quarter: str | None) -> str | None:
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter or "")
    return f"{m.group(1)}-{(int(m.group(2)) - 1) * 3 + 1:02d}-01" if m else None


def _read_ndc(conn, text: str, date: str) -> tuple:
    """(Ndc, crosswalk rows of the quarter for the date), as the check reads an NDC (payerkb.advisor:
    a 10-digit NDC without dashes is resolved by the crosswalk); (None, []) for a name."""
    if not NDC_LIKE.fullmatch(text):
        return None, []
    import payerkb.advisor as advisor

    try:
        parsed, rows, _note = advisor.lookup_ndc(knowledge(conn), conn, re.sub(r"^\s*N4\s*", "", text, flags=re.I), date)
    except ndclib.NdcError as exc:
        raise ValueError(f"drug: {exc}") from None
    return parsed, rows


def _find_drug(conn, text: str, date: str) -> dict:
    """{'drug': row or None, 'matched_by': ..., 'candidates': [...], 'ndc': Ndc or None, 'crosswalk': [...]}."""
    found: dict = {"drug": None, "matched_by": None, "candidates": [], "ndc": None, "crosswalk": []}
    found["ndc"], found["crosswalk"] = _read_ndc(conn, text, date)
    if found["ndc"] is not None:
        parsed = found["ndc"]
        hit = _rows(conn, "select d.* from drug_ndcs n join drugs d on d.id = n.drug_id where n.ndc11 = ?",
                    [parsed.ndc_11])
        if hit:
            found["drug"], found["matched_by"] = hit[0], f"NDC {parsed.ndc_542}"
        return found
    want = _norm(text)
    if not want:
        raise ValueError(f"drug: {text[:40]!r} is neither a drug name nor an NDC")
    drugs = _rows(conn, "select * from drugs")
    exact = []
    for d in drugs:
        names = [d["brand_name"], d["generic_name"], *json.loads(d["aliases"] or "[]")]
        if want in {_norm(n) for n in names if n}:
            exact.append(d)
    if len(exact) == 1:
        found["drug"], found["matched_by"] = exact[0], "name"
    elif len(exact) > 1:
        found["candidates"] = sorted(d["brand_name"] for d in exact)
    else:
        names = {_norm(d["brand_name"]): d["brand_name"] for d in drugs}
        names.update({_norm(d["generic_name"]): d["brand_name"] for d in drugs if d["generic_name"]})
        found["suggestions"] = sorted({names[n] for n in difflib.get_close_matches(want, list(names), n=3)})
    return found


def _drug_rule_dict(row: dict, sources: dict) -> dict:
    srcs = sources.get(row["id"], [])
    values = {k: row[k] for k in DRUG_VALUE_FIELDS if row.get(k) not in (None, "")}
    return {
        "id": row["id"], "topic": row["topic"], "setting": row["setting"], "requirement": row["requirement"],
        "summary": row["summary"], "status": row["status"], "codes": json.loads(row["codes"] or "[]"),
        "effective_from": row["effective_from"], "effective_to": row["effective_to"],
        "dates_text": dates_text(row["effective_from"], row["effective_to"]),
        "values": values, **values, "footing": footing(row["status"], srcs),
        "conflicting": row["status"] == "conflicting", "sources": srcs, **_dated(srcs),
    }


def drug_rule_text(item: dict) -> str:
    bits = [f"{DRUG_TOPIC_WORDS.get(item['topic'], item['topic'].replace('_', ' '))} "
            f"{item['requirement'].replace('_', ' ')}"]
    if item.get("criteria_id"):
        bits.append(f"criteria {item['criteria_id']}")
    if item.get("reviewer"):
        bits.append(f"reviewed by {item['reviewer']}")
    for key, word in (("billing_unit", "billing unit"), ("rate_usd", "rate $"), ("ndc_units", "NDC units")):
        if item.get(key) not in (None, ""):
            bits.append(f"{word} {item[key]}" if key != "rate_usd" else f"rate ${item[key]:,.2f}")
    bits.append(item["dates_text"])
    bits.append("on " + ", ".join(item["codes"]))
    return ", ".join(bits) + f" [{item['footing']}; {item['date_text']}" + ("; CONFLICTING" if item["conflicting"] else "") + "]"


def _drug_answer(conn, payer_id: str, text: str, code, setting, date) -> dict:
    out: dict = {"query": text, "found": False, "id": None, "brand_name": None, "generic_name": None,
                 "matched_by": None, "path": None, "own_code": None, "rules": [], "history": [], "notes": []}
    if not _has_table(conn, "drugs") or not _has_table(conn, "drug_rules"):
        found = dict(zip(("ndc", "crosswalk"), _read_ndc(conn, text, date)))
        out["notes"].append("this database has no drug tables: rebuild it with a payerkb that has them")
        _crosswalk_note(conn, out, found, code, date)
        return out
    found = _find_drug(conn, text, date)
    if found["ndc"] is not None:
        out["ndc_11"], out["ndc_542"] = found["ndc"].ndc_11, found["ndc"].ndc_542
    drug = found["drug"]
    if drug is None:
        if found["candidates"]:
            out["ambiguous"] = True
            out["candidates"] = found["candidates"]
            out["notes"].append(f"{text!r} names more than one drug ({', '.join(found['candidates'])}); "
                                "give the brand name or an NDC: payerkb does not guess")
        else:
            hint = f" (did you mean {', '.join(found['suggestions'])}?)" if found.get("suggestions") else ""
            out["notes"].append(f"payerkb knows no drug {'with NDC' if found['ndc'] else 'called'} {text!r}{hint}; "
                                "the payer-level lines still apply")
        _crosswalk_note(conn, out, found, code, date)
        return out
    out.update(found=True, id=drug["id"], brand_name=drug["brand_name"], generic_name=drug["generic_name"],
               matched_by=found["matched_by"], path=f"/-/drugs/{drug['id']}")
    out["own_code"] = _own_code(conn, drug, code, date)
    if out["own_code"]:
        out["own_code"]["sources"] = _own_code_sources(conn, drug, out["own_code"])
        out["own_code"]["footing"] = footing("sourced", out["own_code"]["sources"])

    live = [r for r in _live_drug_rules(conn, payer_id) if r.drug_id == drug["id"]]
    in_effect = {r.id for r in live if r.applies(code or next(iter(sorted(r.codes)), ""), setting or r.setting, date)}
    rows = _rows(conn, "select * from drug_rules where payer_id = ? and drug_id = ? order by topic, effective_from",
                 [payer_id, drug["id"]])
    sources = _sources(conn, "drug_rule_sources", "drug_rule_id", [r["id"] for r in rows])
    for row in rows:
        item = _drug_rule_dict(row, sources)
        item["text"] = drug_rule_text(item)
        codes = set(item["codes"])
        in_scope = (not code or code in codes) and (not setting or row["setting"] in ("any", setting))
        was_then = (row["status"] == "superseded" and row["effective_to"] and in_scope
                    and row["effective_from"] <= date <= row["effective_to"])  # as for payer rules
        if row["id"] in in_effect or was_then:
            out["rules"].append(item)
        elif in_scope:
            if row["status"] == "superseded":
                item["why"] = "superseded"
            elif date < row["effective_from"]:
                item["why"] = f"not yet in effect (from {row['effective_from']})"
            elif row["effective_to"] and date > row["effective_to"]:
                item["why"] = f"ended {row['effective_to']}"
            else:
                item["why"] = "not in effect on this date"
            out["history"].append(item)
    if not out["rules"]:
        scope = _context_words(code, setting, date)
        out["notes"].append(f"no drug rule of this payer for {drug['brand_name']} is in effect for {scope}"
                            + (f" ({len(out['history'])} in its history)" if out["history"] else ""))
    return out


def _crosswalk_note(conn, out: dict, found: dict, code, date: str) -> None:
    """An NDC the drug tables do not know may still be in the CMS crosswalk under its own code."""
    rows = found.get("crosswalk") or []
    noc = {c for (c,) in conn.execute("select code from codes where is_noc = 1")}
    codes = sorted({r.hcpcs for r in rows} - noc)
    if len(codes) != 1:
        return
    row = next(r for r in rows if r.hcpcs == codes[0])
    in_effect = True if row.effective_from and row.effective_from <= date else None
    listed = f"the CMS NDC-HCPCS crosswalk ({row.quarter}) lists NDC {found['ndc'].ndc_542}" + (
        f" ({row.drug_name})" if row.drug_name else "") + f" under {codes[0]}"
    message = (listed + f": bill {codes[0]}" + (f", not {code}" if code and code != codes[0] else "")
               if in_effect else listed + f" (since {row.quarter} at the latest); check whether it was in effect on {date}")
    own = {"code": codes[0], "from": None, "since_at_latest": row.effective_from, "basis": "crosswalk",
           "quarter": row.quarter, "in_effect": in_effect, "message": message}
    own["sources"] = _own_code_sources(conn, {}, own)
    own["footing"] = footing("sourced", own["sources"])
    out["own_code"] = own


def _own_code_sources(conn, drug: dict, own: dict) -> list[dict]:
    """The drug file's sources for its own code; for a crosswalk code, the CMS crosswalk file."""
    if own["basis"] == "drug file":
        return _sources(conn, "drug_sources", "drug_id", [drug["id"]]).get(drug["id"], [])
    if not _has_table(conn, "cms_files") or not own.get("quarter"):
        return []
    out = []
    for row in _rows(conn, """select source_url, original_file, quarter, ingested from cms_files
                              where quarter = ? and kind = 'crosswalk' order by id""", [own["quarter"]]):
        out.append({"locator": row["original_file"], "id": None, "url": row["source_url"],
                    "title": f"CMS ASP NDC-HCPCS crosswalk, {row['quarter']}", "publisher": "Centers for Medicare & Medicaid Services",
                    "kind": "official", "doc_date": None, "undated": True, "retrieved": row["ingested"],
                    "date_text": f"undated, read {row['ingested'] or 'on an unknown date'}"})
    return out


def _own_code(conn, drug: dict, code, date: str) -> dict | None:
    """The drug's own (non-NOC) code: from its drug file (with the date it starts), else from the
    CMS crosswalk (the quarter that lists it: in effect from that quarter at the latest)."""
    noc = {c for (c,) in conn.execute("select code from codes where is_noc = 1")}
    on = f" on {code}" if code else " on a NOC code"
    if drug.get("hcpcs_code") and drug["hcpcs_code"] not in noc:
        since = drug.get("hcpcs_code_from")
        in_effect = (since <= date) if since else None
        if in_effect:
            msg = (f"{drug['brand_name']} has its own code {drug['hcpcs_code']} from {since}: billing it{on} is wrong "
                   f"for dates of service from {since}; bill {drug['hcpcs_code']}")
        elif since:
            msg = (f"{drug['brand_name']} gets its own code {drug['hcpcs_code']} from {since}: until then it goes{on}; "
                   f"from {since}, billing it on a NOC code is wrong")
        else:
            msg = f"{drug['brand_name']} has its own code {drug['hcpcs_code']} (start date not known to payerkb)"
        return {"code": drug["hcpcs_code"], "from": since, "since_at_latest": None, "basis": "drug file", "quarter": None,
                "in_effect": in_effect, "message": msg}
    if drug.get("crosswalk_hcpcs_code") and drug["crosswalk_hcpcs_code"] not in noc:
        quarter = drug.get("crosswalk_quarter")
        start = _quarter_start(quarter)
        in_effect = True if start and start <= date else None
        if in_effect:
            msg = (f"the CMS NDC-HCPCS crosswalk ({quarter}) lists {drug['brand_name']} under its own code "
                   f"{drug['crosswalk_hcpcs_code']}: billing it{on} is wrong; bill {drug['crosswalk_hcpcs_code']}")
        else:
            msg = (f"the CMS NDC-HCPCS crosswalk of {quarter} lists {drug['brand_name']} under its own code "
                   f"{drug['crosswalk_hcpcs_code']} (so since {quarter} at the latest); payerkb does not know since "
                   f"when exactly, so on {date} check whether {drug['crosswalk_hcpcs_code']} was already in effect "
                   f"(if so, billing it{on} is wrong)")
        return {"code": drug["crosswalk_hcpcs_code"], "from": None, "since_at_latest": start,
                "basis": "crosswalk", "quarter": quarter,
                "match": drug.get("crosswalk_match"), "in_effect": in_effect, "message": msg}
    return None


def _live_drug_rules(conn, payer_id: str) -> list:
    """The payer's drug rules as the claim check loads them (check_drugs.DrugRule, superseded ones
    left out), for DrugRule.applies. check_drugs._index/_payer_rules are private: used on purpose."""
    if not _has_table(conn, "drug_rules"):
        return []
    try:
        from payerkb.check_drugs import _index, _payer_rules
    except ImportError:  # pragma: no cover - a payerkb without drug rules in the check
        return []
    index = _index(knowledge(conn), conn)
    return _payer_rules(index, conn, payer_id) if index is not None else []


def _drug_list_count(conn, payer_id: str, code, setting, date) -> int:
    """Drugs on the payer's prior-authorization drug list for this code, setting and date."""
    return len({r.drug_id for r in _live_drug_rules(conn, payer_id)
                if r.topic == "prior_auth" and r.requirement in ("required", "conditional")
                and r.applies(code or next(iter(sorted(r.codes)), ""), setting or r.setting, date)})


# --- the answer -------------------------------------------------------------------------------

def answer(conn: sqlite3.Connection, payer_id: str, code: str | None = None, date=None,
           setting: str | None = None, drug: str | None = None, today: dt.date | None = None) -> dict | None:
    """What `payer_id` requires for a claim of `code` on `date` (default today) in `setting`, and for
    `drug` (a name or an NDC). None when the payer does not exist; ValueError for bad input."""
    date_given = check_date(date)
    the_date = date_given or (today or dt.date.today()).isoformat()
    setting = check_setting(setting)
    if drug is not None and not isinstance(drug, str):
        raise ValueError("drug: give a drug name or an NDC as text")
    drug = drug.strip() if drug else None
    if drug and len(drug) > MAX_DRUG_TEXT:
        raise ValueError(f"drug: longer than {MAX_DRUG_TEXT} characters; give a drug name or an NDC")
    if drug and not _norm(drug):
        raise ValueError(f"drug: {drug[:40]!r} is neither a drug name nor an NDC")
    if not isinstance(payer_id, str) or not payer_id.strip():
        raise ValueError("payer: give a payer id, e.g. medicare-palmetto-jj")
    code = check_code(conn, code)
    payers = _rows(conn, "select id, name, payer_type, states, jurisdiction, website from payers where id = ?",
                   [payer_id.strip()])
    if not payers:
        return None
    payer = payers[0]
    payer["states"] = json.loads(payer["states"] or "[]")
    payer["path"] = f"/-/payers/{payer['id']}"
    pid = payer["id"]

    kb = knowledge(conn)
    # the check's selection: its rules (superseded and overridden scraped rules left out) x Rule.applies
    live = kb.rules_for(pid, conn)
    in_effect = {r.id for r in live
                 if r.applies(code or next(iter(sorted(r.codes)), ""), setting or r.setting, the_date)}
    live_ids = {r.id for r in live}
    rows = _rows(conn, "select * from rules where payer_id = ? order by topic, setting, rule_key", [pid])
    # A superseded rule with an end date was the rule up to that date: for a date of service inside its
    # window it is the answer (the check, which checks today's claims, leaves superseded rules out).
    for row in rows:
        if row["status"] == "superseded" and row["effective_to"] and row["origin"] != "gap":
            rule = _rule_obj(row)
            if rule.applies(code or next(iter(sorted(rule.codes)), ""), setting or rule.setting, the_date):
                in_effect.add(row["id"])
    sources = _sources(conn, "rule_sources", "rule_id", [r["id"] for r in rows])
    labels = {r["id"]: r["label"] for r in _rows(conn, "select id, label from claim_fields")}
    context = _context_words(code, setting, the_date)

    lines, unknown, no_rule = [], [], []
    for topic in TOPICS:
        answered, history, gap, elsewhere = [], [], False, 0
        for row in (r for r in rows if r["topic"] == topic):
            rule = _rule_obj(row)
            if row["origin"] == "gap":
                gap = gap or row["id"] in in_effect
                continue
            if row["status"] != "superseded" and row["id"] not in live_ids:
                continue  # a scraped rule a manual one overrides: not an answer, not history
            if row["id"] in in_effect:
                answered.append(_shape_rule(row, sources, labels, pid))
            elif _in_scope(rule, code, setting):
                item = _shape_rule(row, sources, labels, pid)
                item["why"] = _why_history(rule, the_date)
                history.append(item)
            elif row["status"] != "superseded":
                elsewhere += 1
        for item in answered + history:
            item["text"] = rule_text(item, show_setting=setting is None)
        line = {"topic": topic, "label": TOPIC_WORDS[topic], "rules": answered, "history": history,
                "other_scopes": elsewhere}
        if answered:
            answered.sort(key=lambda i: (FOOTINGS.index(i["footing"]), i["setting"] == "any", i["id"]))
            line.update(status="answered", requirement=_requirement(answered),
                        conflicting=any(i["conflicting"] for i in answered), footing=_line_footing(answered),
                        text=f"{TOPIC_WORDS[topic]}: " + " + ".join(i["text"] for i in answered))
        elif topic == "prior_auth" and (n := _drug_list_count(conn, pid, code, setting, the_date)):
            line.update(status="drug_list", requirement="drug_list", conflicting=False, footing=None,
                        drug_list_drugs=n,
                        text=f"{TOPIC_WORDS[topic]}: by drug list: {n} drug{'s' if n != 1 else ''} need it for {context}"
                             " (give drug= to see one)")
        elif gap or not (history or elsewhere):
            unknown.append(topic)
            line.update(status="unknown", requirement="unknown", conflicting=False, footing=None,
                        text=f"{TOPIC_WORDS[topic]}: no source found yet")
        else:
            no_rule.append(topic)
            line.update(status="no_rule", requirement=None, conflicting=False, footing=None,
                        text=f"{TOPIC_WORDS[topic]}: payerkb has no rule of this payer for {context}"
                             + (f" ({len(history)} in its history)" if history else "")
                             + (" (its other rule on this topic covers other codes or settings)" if elsewhere == 1
                                else f" (its {elsewhere} other rules on this topic cover other codes or settings)"
                                if elsewhere else ""))
        lines.append(line)

    drug_answer = _drug_answer(conn, pid, drug, code, setting, the_date) if drug else None
    if drug_answer:
        _fold_drug_rules(lines, drug_answer, unknown, no_rule)
        _fold_own_code(lines, drug_answer, unknown, no_rule)
    result = {
        "payer": payer,
        "context": {"code": code, "date": the_date, "date_given": bool(date_given), "setting": setting,
                    "drug": drug, "text": context,
                    "query": urlencode([(k, v) for k, v in (("code", code), ("date", date_given),
                                                            ("setting", setting), ("drug", drug)) if v])},
        "topics": lines,
        "unknown_topics": unknown,
        "no_rule_topics": no_rule,
        "conflicting_topics": [t["topic"] for t in lines if t["conflicting"]],
        "drug": drug_answer,
    }
    return result


def _fold_drug_rules(lines: list[dict], drug: dict, unknown: list, no_rule: list) -> None:
    """The drug's rules in effect join the topic line they answer (prior authorization, units ...)."""
    try:
        from payerkb.check_drugs import FINDING_TOPIC
    except ImportError:  # pragma: no cover
        FINDING_TOPIC = {}

    for item in drug["rules"]:
        topic = FINDING_TOPIC.get(item["topic"], "prior_auth")
        line = next(t for t in lines if t["topic"] == topic)
        words = f"{drug['brand_name']}: {item['text']}"
        line.setdefault("drug_rules", []).append(item["id"])
        if line["status"] in ("answered",):
            line["text"] += f" + drug rule {words}"
            line["footing"] = _line_footing([{"footing": line["footing"]}, item])
            if item["conflicting"]:
                line["conflicting"] = True
                line["requirement"] = "conflicting"
        else:
            for lst in (unknown, no_rule):
                if topic in lst:
                    lst.remove(topic)
            line.update(status="answered", requirement="conflicting" if item["conflicting"] else item["requirement"],
                        conflicting=item["conflicting"], footing=item["footing"],
                        text=f"{line['label']}: drug rule {words}")
            continue
    for line in lines:
        if line.get("drug_rules") and line["status"] == "answered" and not line["rules"]:
            line["requirement"] = _requirement([{"requirement": r["requirement"], "conflicting": r["conflicting"]}
                                                for r in drug["rules"] if r["id"] in line["drug_rules"]])


def _fold_own_code(lines: list[dict], drug: dict, unknown: list, no_rule: list) -> None:
    """A drug with its own code in effect on the date answers the coding line: not a NOC code."""
    own = drug.get("own_code")
    if not own or own.get("in_effect") is not True:
        return
    line = next(t for t in lines if t["topic"] == "coding")
    line["own_code"] = own["code"]
    who = drug.get("brand_name") or (f"NDC {drug['ndc_542']}" if drug.get("ndc_542") else "this drug")
    dated = _dated(own.get("sources") or [])["date_text"]
    words = f"{who}: {own['message']} [{own['footing']}; {dated}]"
    if line["status"] == "answered":
        line["text"] += f" + {words}"
        line["footing"] = _line_footing([{"footing": line["footing"]}, own])
        return
    for lst in (unknown, no_rule):
        if "coding" in lst:
            lst.remove("coding")
    line.update(status="answered", requirement="required", conflicting=False, footing=own["footing"],
                text=f"{line['label']}: {words}")


def format_text(result: dict, history: bool = False) -> str:
    """The answer as text: one line per topic, then the topics with no source, then the drug; with
    history, each line's rules not in effect on the date too (indented)."""
    p, c = result["payer"], result["context"]
    out = [f"{p['name']} ({p['id']}): {c['text']}" + ("" if c["date_given"] else " (today)")]
    width = max(len(TOPIC_WORDS[t]) for t in TOPICS) + 1
    for line in result["topics"]:
        if line["status"] == "unknown":
            continue
        body = line["text"].split(": ", 1)[1]
        out.append(f"  {line['label'] + ':':<{width}} {body}")
        for item in line["history"] if history else []:
            out.append(f"  {'':<{width}}   history: {item['text']} ({item['why']})")
    if result["unknown_topics"]:
        out.append("  no source found yet for: " + ", ".join(TOPIC_WORDS[t] for t in result["unknown_topics"]))
    d = result.get("drug")
    if d:
        if d["found"]:
            out.append(f"  drug: {d['brand_name']}" + (f" ({d['generic_name']})" if d["generic_name"] else "")
                       + f", found by {d['matched_by']}")
        else:
            out.append(f"  drug: {d['query']}: not found")
        for r in d["rules"]:
            out.append(f"    {r['text']}")
        for r in d["history"] if history else []:
            out.append(f"    history: {r['text']} ({r['why']})")
        if d.get("own_code"):
            out.append(f"    own code: {d['own_code']['message']}")
        for note in d["notes"]:
            out.append(f"    note: {note}")
    return "\n".join(out)

