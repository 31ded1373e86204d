"""Build the `changes` table: what changed in the knowledge base and in the pages behind it.

Kinds of change (newest first is the natural order; the table is written in that order):
- rule_added / rule_changed / rule_removed: this build's rules against the previous database at
  the build's output path. These carry forward from the previous database's own changes table,
  so history survives rebuilds; a first build (no previous database) has none. A changed rule
  names every field that changed with its old and new value: `fields` holds them as JSON
  ([{"field", "old", "new"}], lists as lists), `detail` says the same in one line.
- rule_effective: a rule's effective_from date (from policies/).
- source_dated: the date a source shows (sources.doc_date).
- page_changed: a scraper fetched a page whose content differs from the last fetch (fetches.changed).

Ids are UUIDs made from what the row says (uuid5), so they are stable across builds and a feed's
entry id (urn:uuid:<id>) does not churn.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from pathlib import Path

import sqlite_utils

from db.errors import BuildError

CARRIED = ("rule_added", "rule_changed", "rule_removed")
KINDS = CARRIED + ("rule_effective", "source_dated", "page_changed")
COLUMNS = {"id": str, "changed_at": str, "kind": str, "payer_id": str, "rule_id": str,
           "source_id": str, "url": str, "title": str, "detail": str, "fields": str}
# The rule columns whose change is worth telling people about (file and line moves are not), and
# `sources`: the ids of the sources the rule cites (rule_sources).
COMPARED = ("topic", "setting", "requirement", "summary", "codes", "threshold_usd", "pricing_basis",
            "percent", "claim_field", "max_chars", "unit_rule", "modifiers", "ndc_unit_qualifiers",
            "ndc_format", "narrative_elements", "narrative_rejects", "invoice_max_age_days",
            "submission_channel", "denial_codes", "exceptions", "effective_from", "effective_to", "as_of", "status",
            "sources")
# Columns stored as JSON lists: compared, and told, as lists.
LIST_FIELDS = ("codes", "claim_field", "modifiers", "ndc_unit_qualifiers", "narrative_elements",
               "narrative_rejects", "denial_codes", "exceptions", "sources")


# Change ids are UUIDs (name-based, from what the change says), so a feed entry's id is urn:uuid:<id>.
ID_NAMESPACE = uuid.UUID("0b6c2f52-5a8e-4d0e-8f3c-8a1d6e2f9c47")


def change_id(row: dict) -> str:
    key = json.dumps([row.get(k) for k in ("kind", "changed_at", "rule_id", "source_id", "url", "detail")])
    return str(uuid.uuid5(ID_NAMESPACE, key))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _rule_sources(conn) -> dict[str, list[str]]:
    """Each rule's source ids, sorted (as a JSON list, the way the rule columns keep lists)."""
    cited: dict[str, list[str]] = {}
    for rule_id, source_id in conn.execute("select rule_id, source_id from rule_sources order by rule_id, source_id"):
        cited.setdefault(rule_id, []).append(source_id)
    return cited


def _with_sources(rules: dict[str, dict], cited: dict[str, list[str]]) -> dict[str, dict]:
    for rid, rule in rules.items():
        rule["sources"] = json.dumps(cited.get(rid, [])) if rid in cited else None
    return rules


def _previous(out_path: Path) -> tuple[dict[str, dict], list[dict]] | None:
    """(rules by id, carried changes) of the database being replaced, or None when there is none."""
    out_path = Path(out_path)
    if not out_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{out_path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
            if "rules" not in tables:
                return None
            rules = {r["id"]: dict(r) for r in conn.execute("select * from rules where origin != 'gap'")}
            if "rule_sources" in tables:
                _with_sources(rules, _rule_sources(conn))
            carried = []
            if "changes" in tables:
                carried = [dict(r) for r in conn.execute(
                    f"select * from changes where kind in ({','.join('?' * len(CARRIED))})", CARRIED)]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BuildError(
            f"cannot read the previous database {out_path} to carry its change history forward ({exc}); "
            f"move it aside to start the history afresh") from None
    for rule in rules.values():  # older databases may lack a column: treat it as empty
        for col in COMPARED:
            rule.setdefault(col, None)
    return rules, carried


def _value(col: str, raw):
    """A compared value as people read it: JSON list columns as lists, the rest as stored."""
    if col in LIST_FIELDS and isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
        return value if isinstance(value, list) else raw
    if isinstance(raw, float) and raw.is_integer():  # REAL columns: 500.0 is told as 500
        return int(raw)
    return raw


def _fmt(value) -> str:
    if value is None or value == []:
        return "(none)"
    text = ", ".join(map(str, value)) if isinstance(value, list) else " ".join(str(value).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _field_line(change: dict) -> str:
    old, new = change["old"], change["new"]
    if isinstance(old, list) and isinstance(new, list) and old and new:
        added = [v for v in new if v not in old]
        gone = [v for v in old if v not in new]
        if added or gone:
            parts = ([f"added {_fmt(added)}"] if added else []) + ([f"removed {_fmt(gone)}"] if gone else [])
            return f"{change['field']}: {'; '.join(parts)}"
    return f"{change['field']}: {_fmt(old)} -> {_fmt(new)}"


def field_changes(before: dict, after: dict) -> list[dict]:
    """Every compared field whose value differs, with its old and new value."""
    changed = []
    for col in COMPARED:
        old, new = _value(col, before.get(col)), _value(col, after.get(col))
        if old != new and not (old in (None, []) and new in (None, [])):
            changed.append({"field": col, "old": old, "new": new})
    return changed


def describe(fields: list[dict]) -> str:
    """The one-line `detail` of a changed rule: each field, old -> new (lists: what was added, removed)."""
    return "; ".join(_field_line(f) for f in fields)


def _rule_title(rule: dict, verb: str) -> str:
    return f"{rule['payer_name'] or rule['payer_id']}: {rule['topic'].replace('_', ' ')} rule {verb}"


def _diff_rows(old: dict[str, dict], new: dict[str, dict], when: str, url_of) -> list[dict]:
    rows = []
    for rid, rule in new.items():
        if rid not in old:
            rows.append({"changed_at": when, "kind": "rule_added", "payer_id": rule["payer_id"],
                         "rule_id": rid, "url": url_of(rid), "title": _rule_title(rule, "added"),
                         "detail": rule["summary"]})
        else:
            fields = field_changes(old[rid], rule)
            if fields:
                rows.append({"changed_at": when, "kind": "rule_changed", "payer_id": rule["payer_id"],
                             "rule_id": rid, "url": url_of(rid), "title": _rule_title(rule, "changed"),
                             "detail": describe(fields), "fields": json.dumps(fields)})
    for rid, rule in old.items():
        if rid not in new:
            rows.append({"changed_at": when, "kind": "rule_removed", "payer_id": rule["payer_id"],
                         "rule_id": rid, "url": None, "title": _rule_title(rule, "removed"),
                         "detail": rule.get("summary")})
    return rows


def record_changes(db: sqlite_utils.Database, kb, out_path) -> None:
    db["changes"].create(COLUMNS, pk="id", not_null={"changed_at", "kind"})
    rows: list[dict] = []

    first_url = {r["rule_id"]: r["url"] for r in db.query(
        "select rs.rule_id, min(s.url) as url from rule_sources rs join sources s on s.id = rs.source_id "
        "group by rs.rule_id")}
    new_rules = _with_sources({r["id"]: r for r in db.query("select * from rules where origin != 'gap'")},
                              _rule_sources(db.conn))
    previous = _previous(out_path)
    if previous is not None:
        old_rules, carried = previous
        rows.extend({k: c.get(k) for k in COLUMNS if k != "id"} for c in carried)
        rows.extend(_diff_rows(old_rules, new_rules, _now(), first_url.get))

    for rule in new_rules.values():
        if rule["effective_from"]:
            rows.append({"changed_at": rule["effective_from"], "kind": "rule_effective",
                         "payer_id": rule["payer_id"], "rule_id": rule["id"],
                         "url": first_url.get(rule["id"]), "title": _rule_title(rule, "takes effect"),
                         "detail": rule["summary"]})

    payers_citing = {}
    for r in db.query("select rs.source_id, group_concat(distinct r.payer_id) as payers "
                      "from rule_sources rs join rules r on r.id = rs.rule_id group by rs.source_id"):
        payers_citing[r["source_id"]] = r["payers"].split(",") if r["payers"] else []
    for src in db.query("select id, url, title, publisher, doc_date from sources where doc_date is not null"):
        payers = payers_citing.get(src["id"], [])
        rows.append({"changed_at": src["doc_date"], "kind": "source_dated",
                     "payer_id": payers[0] if len(payers) == 1 else None, "source_id": src["id"],
                     "url": src["url"], "title": f"{src['publisher']}: {src['title']}",
                     "detail": f"cited by {len(payers)} payer(s)" if payers else "not cited by a rule yet"})

    source_by_url = {s["url"]: s for s in db.query("select id, url, title from sources")}
    doc_by_url = {d["url"]: d for d in db.query("select url, title, payer_id from documents")}
    for f in db.query("select * from fetches where changed = 1 and error is null order by id"):
        src = source_by_url.get(f["url"])
        doc = doc_by_url.get(f["url"])
        payers = payers_citing.get(src["id"], []) if src else []
        title = (src or doc or {}).get("title") or f["url"]
        rows.append({"changed_at": f["fetched_at"], "kind": "page_changed",
                     "payer_id": payers[0] if len(payers) == 1 else (doc or {}).get("payer_id"),
                     "source_id": src["id"] if src else None, "url": f["url"],
                     "title": f"Page changed: {title}",
                     "detail": f"{f['scraper']} fetched new content (sha256 {f['sha256'][:12]}...)"})

    unique: dict[str, dict] = {}
    for row in rows:
        row = {k: row.get(k) for k in COLUMNS if k != "id"}
        unique.setdefault(change_id(row), row)
    ordered = sorted(unique.items(), key=lambda kv: (kv[1]["changed_at"], kv[0]), reverse=True)
    db["changes"].insert_all({"id": cid, **row} for cid, row in ordered)
    for cols in (["changed_at"], ["kind"], ["payer_id"]):
        db["changes"].create_index(cols, if_not_exists=True)
