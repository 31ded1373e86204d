"""What the smart search indexes: one document per rule, in words people type, read from the built
database. No Whoosh here; db/search_index.py writes these documents into the index."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters: cannot occur in our text

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "VI": "US Virgin Islands", "GU": "Guam", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}

# The words people use for our enum values, indexed beside them so "prior authorization" finds
# topic prior_auth and "mac" finds payer_type medicare_mac.
TOPIC_WORDS = {
    "prior_auth": "prior authorization",
    "invoice": "invoice",
    "pricing": "pricing price payment reimbursement",
    "ndc": "ndc national drug code",
    "narrative": "narrative description",
    "units": "units",
    "modifiers": "modifiers",
    "documentation": "documentation records",
    "submission": "submission",
    "coding": "coding",
}
PAYER_TYPE_WORDS = {
    "medicare_national": "medicare national fee for service",
    "medicare_mac": "medicare mac medicare administrative contractor",
    "medicare_advantage": "medicare advantage",
    "commercial": "commercial",
    "bcbs": "blue cross blue shield bcbs",
    "medicaid_ffs": "medicaid fee for service",
    "medicaid_mco": "medicaid managed care mco",
    "tricare": "tricare",
    "other": "",
}
SETTING_WORDS = {
    "professional": "professional physician office",
    "outpatient_facility": "outpatient facility hospital",
    "asc": "asc ambulatory surgery center",
    "dme": "dme durable medical equipment",
    "any": "",
}

# Drug rules (drug_rules): the words people use for their topics. "drug list" and "drugs" let
# "which drugs need pa" find them.
DRUG_TOPIC_WORDS = {
    "prior_auth": "prior authorization drug list drugs",
    "step_therapy": "step therapy drug list drugs",
    "quantity_limit": "quantity limit drug list drugs",
    "billing_unit": "billing unit units drugs",
    "rate": "rate pricing price payment drugs",
    "ndc_units": "ndc units national drug code drugs",
}

def footing(origin: str | None, status: str | None) -> str:
    """How firm a row is, for ranking: "sourced" (incl. conflicting and needs review), "unconfirmed"
    (no source, or replaced by a newer rule: superseded), or "gap" (generated: no source found yet)."""
    if origin == "gap":
        return "gap"
    return "unconfirmed" if status in ("unconfirmed", "superseded") else "sourced"


# Rows that are not the answer a user wants first: generated gaps and replaced rules.
# (Whoosh applies a document boost to its term weights, so BM25 lowers the score by less than this.)
DOC_BOOSTS = {"gap": 0.5, "superseded": 0.4, "shadowed": 0.6}


def _words(value) -> str:
    return str(value).replace("_", " ") if value not in (None, "") else ""


def _json_list(text) -> list:
    return json.loads(text) if text else []


def _details(rule: dict, claim_fields: dict[str, str]) -> str:
    parts = [_words(rule["requirement"]), SETTING_WORDS.get(rule["setting"] or "any", "")]
    if rule["pricing_basis"]:
        parts.append(_words(rule["pricing_basis"]))
    if rule["percent"] is not None:
        parts.append(f"{rule['percent']:g} percent")
    if rule["threshold_usd"] is not None:
        parts.append(f"{rule['threshold_usd']:g} dollars threshold")
    parts += [claim_fields.get(f, _words(f)) for f in _json_list(rule["claim_field"])]
    if rule["max_chars"]:
        parts.append(f"{rule['max_chars']} characters")
    for key in ("unit_rule", "ndc_format", "submission_channel"):
        parts.append(_words(rule[key]))
    for key in ("modifiers", "ndc_unit_qualifiers", "narrative_elements", "narrative_rejects", "denial_codes"):
        parts += [_words(v) for v in _json_list(rule[key])]
    if rule["invoice_max_age_days"]:
        parts.append(f"{rule['invoice_max_age_days']} days")
    return " ".join(p for p in parts if p)


def documents(conn: sqlite3.Connection, tokenize: Callable[[str], Iterable[str]]) -> Iterator[dict]:
    """Every rule as an index document (field name -> value; `_boost` lowers a rule's weight),
    then one "vocabulary" document. tokenize is the index's unstemmed word splitter: the
    vocabulary holds each word as it splits them."""
    conn.row_factory = sqlite3.Row
    vocabulary: set[str] = set()
    claim_fields = {r["id"]: r["label"] for r in conn.execute("select id, label from claim_fields")}
    cited: dict[str, list[str]] = {}
    for r in conn.execute(
        "select rs.rule_id, s.title, s.publisher, s.document_id from rule_sources rs "
        "join sources s on s.id = rs.source_id"
    ):
        cited.setdefault(r["rule_id"], []).append(
            " ".join(v for v in (r["title"], r["publisher"], r["document_id"]) if v)
        )
    for r in conn.execute(
        "select r.*, p.name as p_name, p.parent_org, p.payer_type, p.states as p_states, "
        "p.jurisdiction, p.aliases from rules r join payers p on p.id = r.payer_id "
        "order by r.payer_id, r.topic, r.id"  # document order: filter-only results list in this order
    ):
        rule = dict(r)
        states = _json_list(rule["p_states"])
        codes = _json_list(rule["codes"])
        jurisdiction = rule["jurisdiction"] or ""
        payer_text = " ".join([
            rule["p_name"], rule["parent_org"] or "", " ".join(_json_list(rule["aliases"])),
            PAYER_TYPE_WORDS.get(rule["payer_type"], ""), jurisdiction, rule["payer_id"].replace("-", " "),
        ])
        place_text = " ".join(
            [jurisdiction] + states + [STATE_NAMES.get(s, "") for s in states]
        )
        doc = {
            "kind": "rule",
            "rule_id": rule["id"],
            "payer_id": rule["payer_id"],
            "payer_name": rule["p_name"],
            "payer": payer_text,
            "place": place_text,
            "topic_words": TOPIC_WORDS.get(rule["topic"], _words(rule["topic"])),
            "codes": " ".join(codes),
            "summary": (rule["summary"] or "").replace(MARK_OPEN, "").replace(MARK_CLOSE, ""),
            "details": _details(rule, claim_fields),
            "sources": " ".join(cited.get(rule["id"], [])),
            "note": rule["note"] or "",
            "payer_type": rule["payer_type"],
            "topic": rule["topic"],
            "footing": footing(rule["origin"], rule["status"]),
            "meta": {k: rule[k] for k in ("setting", "requirement", "status", "origin", "as_of",
                                          "as_of_undated", "effective_from", "effective_to")}
                    | {"codes": codes, "states": states},
        }
        for f in ("payer", "place", "topic_words", "codes", "summary", "details", "sources", "note"):
            vocabulary.update(tokenize(doc[f]))
        doc["drug"] = ""
        if rule["origin"] == "gap":
            doc["_boost"] = DOC_BOOSTS["gap"]
        elif rule["status"] == "superseded":
            doc["_boost"] = DOC_BOOSTS["superseded"]
        elif rule["shadowed_by"]:
            doc["_boost"] = DOC_BOOSTS["shadowed"]
        yield doc
    yield from _drug_rule_documents(conn, cited_by_drug_rule(conn), vocabulary, tokenize)
    for (term,) in conn.execute("select term from synonyms"):
        vocabulary.update(tokenize(term))
    # One document holds every word once, as written: spelling suggestions and prefix* search
    # read its word list (the rules are indexed stemmed).
    yield {"kind": "vocabulary", "rule_id": "", "spell": " ".join(sorted(vocabulary))}


def cited_by_drug_rule(conn: sqlite3.Connection) -> dict[str, list[str]]:
    if not conn.execute("select 1 from sqlite_master where name = 'drug_rule_sources'").fetchone():
        return {}
    cited: dict[str, list[str]] = {}
    for r in conn.execute(
        "select ds.drug_rule_id, s.title, s.publisher, s.document_id from drug_rule_sources ds "
        "join sources s on s.id = ds.source_id"
    ):
        cited.setdefault(r[0], []).append(" ".join(v for v in r[1:] if v))
    return cited


def drug_rule_summary(rule: dict) -> str:
    """A drug rule in words, where its file gives no summary: built from its fields only."""
    name = rule["brand_name"] + (f" ({rule['generic_name']})" if rule["generic_name"] else "")
    what = DRUG_TOPIC_WORDS.get(rule["topic"], _words(rule["topic"])).split(" drug")[0]
    text = (f"{name} on {', '.join(_json_list(rule['codes']))}: {what} {_words(rule['requirement'])} "
            f"for dates of service from {rule['effective_from']}")
    if rule["effective_to"]:
        text += f" to {rule['effective_to']}"
    extra = [f"criteria {rule['criteria_id']}" if rule["criteria_id"] else "",
             f"reviewed by {rule['reviewer']}" if rule["reviewer"] else "",
             f"billing unit {rule['billing_unit']}" if rule["billing_unit"] else "",
             f"{rule['rate_usd']:g} dollars per unit" if rule["rate_usd"] is not None else ""]
    extra = [e for e in extra if e]
    return text + ("; " + "; ".join(extra) if extra else "") + "."


def _drug_rule_documents(conn, cited: dict[str, list[str]], vocabulary: set[str], tokenize) -> Iterator[dict]:
    """Every drug rule as an index document of kind "rule" (so it is searched and filtered with the
    rules), its drug's names in the `drug` field; meta says kind drug_rule."""
    if not conn.execute("select 1 from sqlite_master where name = 'drug_rules'").fetchone():
        return
    for r in conn.execute(
        "select d.*, g.brand_name, g.generic_name, g.aliases as drug_aliases, g.ndcs as drug_ndcs, "
        "p.name as p_name, p.parent_org, "
        "p.payer_type, p.states as p_states, p.jurisdiction, p.aliases "
        "from drug_rules d join drugs g on g.id = d.drug_id join payers p on p.id = d.payer_id "
        "order by d.payer_id, d.topic, d.id"
    ):
        rule = dict(r)
        states = _json_list(rule["p_states"])
        codes = _json_list(rule["codes"])
        jurisdiction = rule["jurisdiction"] or ""
        summary = rule["summary"] or drug_rule_summary(rule)
        doc = {
            "kind": "rule",
            "rule_id": rule["id"],
            "payer_id": rule["payer_id"],
            "payer_name": rule["p_name"],
            "payer": " ".join([
                rule["p_name"], rule["parent_org"] or "", " ".join(_json_list(rule["aliases"])),
                PAYER_TYPE_WORDS.get(rule["payer_type"], ""), jurisdiction, rule["payer_id"].replace("-", " "),
            ]),
            "place": " ".join([jurisdiction] + states + [STATE_NAMES.get(s, "") for s in states]),
            "topic_words": DRUG_TOPIC_WORDS.get(rule["topic"], _words(rule["topic"])),
            "codes": " ".join(codes),
            "summary": summary.replace(MARK_OPEN, "").replace(MARK_CLOSE, ""),
            "details": " ".join(p for p in (
                _words(rule["requirement"]), SETTING_WORDS.get(rule["setting"] or "any", ""),
                rule["criteria_id"] or "", rule["program"] or "", rule["reviewer"] or "",
                rule["billing_unit"] or "") if p),
            "drug": " ".join([rule["brand_name"], rule["generic_name"] or "",
                              " ".join(_json_list(rule["drug_aliases"])), rule["drug_id"].replace("-", " "),
                              # the drug's NDCs as printed (5-4-2) and as claims carry them (11 digits)
                              " ".join(f"{n} {n.replace('-', '')}" for n in _json_list(rule["drug_ndcs"]))]),
            "sources": " ".join(cited.get(rule["id"], [])),
            "note": rule["note"] or "",
            "payer_type": rule["payer_type"],
            "topic": rule["topic"],
            "footing": footing(None, rule["status"]),
            "meta": {k: rule[k] for k in ("setting", "requirement", "status", "origin", "as_of",
                                          "as_of_undated", "effective_from", "effective_to", "criteria_id",
                                          "reviewer", "drug_id")}
                    | {"codes": codes, "states": states, "kind": "drug_rule", "drug_name": rule["brand_name"],
                       "generic_name": rule["generic_name"]},
        }
        for f in ("payer", "place", "topic_words", "codes", "summary", "details", "drug", "sources", "note"):
            vocabulary.update(tokenize(doc[f]))
        if rule["status"] == "superseded":
            doc["_boost"] = DOC_BOOSTS["superseded"]
        yield doc
