"""What the claim check and the code advisor read from db/payerkb.db, loaded once and cached.

Reference tables (codes, modifiers, denial codes, claim fields, payers) and the CMS crosswalk load
once per database file; a payer's rules load the first time a claim for that payer comes in. The
cache is keyed by the database file and its modification time, so a rebuilt database is re-read.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

JSON_LISTS = ("claim_field", "modifiers", "ndc_unit_qualifiers", "narrative_elements",
              "narrative_rejects", "denial_codes", "exceptions")


@dataclass(frozen=True)
class SourceRef:
    url: str
    title: str | None
    doc_date: str | None
    locator: str | None = None


@dataclass
class Rule:
    id: str
    payer_id: str
    topic: str
    setting: str
    requirement: str
    summary: str
    codes: frozenset
    status: str
    origin: str
    as_of: str | None
    effective_from: str | None
    effective_to: str | None
    threshold_usd: float | None = None
    pricing_basis: str | None = None
    percent: float | None = None
    claim_field: list = field(default_factory=list)
    max_chars: int | None = None
    unit_rule: str | None = None
    modifiers: list = field(default_factory=list)
    ndc_unit_qualifiers: list = field(default_factory=list)
    ndc_format: str | None = None
    narrative_elements: list = field(default_factory=list)
    narrative_rejects: list = field(default_factory=list)
    invoice_max_age_days: int | None = None
    submission_channel: str | None = None
    denial_codes: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)

    def applies(self, code: str, setting: str, dos: str) -> bool:
        return (
            code in self.codes
            and self.setting in ("any", setting)
            and (self.effective_from is None or self.effective_from <= dos)
            and (self.effective_to is None or dos <= self.effective_to)
        )

    @property
    def source_url(self) -> str | None:
        return self.sources[0].url if self.sources else None

    @property
    def certain(self) -> bool:
        """False for rules whose sources disagree, that no source backs, or not yet reviewed."""
        return self.status == "sourced"


@dataclass(frozen=True)
class CrosswalkRow:
    quarter: str
    effective_from: str | None
    effective_to: str | None
    hcpcs: str
    short_descriptor: str | None
    ndc: str
    drug_name: str | None
    labeler: str | None
    hcpcs_dosage: str | None
    bill_units: float | None
    bill_units_pkg: float | None


class Knowledge:
    """Everything the check needs from one database file."""

    def __init__(self, conn: sqlite3.Connection):
        self.tables = {name for (name,) in conn.execute(
            "select name from sqlite_master where type in ('table', 'view')")}
        self.sources = self._sources_by_id(conn)
        self.payers = {row["id"]: row for row in _rows(conn, "select id, name, payer_type, states, jurisdiction from payers")}
        self.codes = {}
        for row in _rows(conn, "select * from codes"):
            row["source_refs"] = [self.sources[s] for s in json.loads(row["sources"] or "[]") if s in self.sources]
            self.codes[row["code"]] = row
        self.modifiers = {}
        for row in _rows(conn, "select * from modifiers"):
            row["source_refs"] = [self.sources[s] for s in json.loads(row["sources"] or "[]") if s in self.sources]
            self.modifiers[row["code"]] = row
        self.denials_by_topic: dict[str, list[str]] = {}
        for row in _rows(conn, "select code, topics from denial_codes order by code"):
            for topic in json.loads(row["topics"] or "[]"):
                self.denials_by_topic.setdefault(topic, []).append(row["code"])
        self.claim_fields = {r["id"]: r["label"] for r in _rows(conn, "select id, label from claim_fields")}
        self._rules: dict[str, list[Rule]] = {}
        self._crosswalk: dict[str, list[CrosswalkRow]] | None = None
        self._crosswalk_codes: set[str] = set()
        self._lock = threading.Lock()
        self.conn_ref = None
        self._xwalk_urls: dict[str, str | None] = {}
        self._opps: dict[str, tuple] = {}
        self._topics: dict[str, set[str]] = {}
        # worked out once per (payer, code, setting, date of service) and per (NDC, date): see payerkb/check.py
        self.scopes: dict[tuple, object] = {}
        self.ndc_lookups: dict[tuple, tuple] = {}
        self.noc_prices: dict[str, tuple | None] = {}
        self.references: dict[tuple, object] = {}  # payerkb/check_reference.py
        self.type_rules: dict[str, object] = {}  # topic -> (payer type, code) -> rules, ditto

    @staticmethod
    def _sources_by_id(conn) -> dict[str, SourceRef]:
        return {r["id"]: SourceRef(r["url"], r["title"], r["doc_date"])
                for r in _rows(conn, "select id, url, title, doc_date from sources")}

    @property
    def has_crosswalk(self) -> bool:
        return "ndc_hcpcs_crosswalk" in self.tables

    def rules_for(self, payer_id: str, conn: sqlite3.Connection) -> list[Rule]:
        """The payer's rules (superseded ones left out, scraped ones a manual rule overrides too)."""
        rules = self._rules.get(payer_id)
        if rules is None:
            rules = self._rules[payer_id] = _load_rules(conn, payer_id)
            self._topics[payer_id] = {r.topic for r in rules if r.origin != "gap"}
        return rules

    def topics_of(self, payer_id: str, conn: sqlite3.Connection) -> set[str]:
        """Topics on which the payer has at least one real (not gap) rule."""
        self.rules_for(payer_id, conn)
        return self._topics[payer_id]

    def crosswalk(self, conn: sqlite3.Connection) -> dict[str, list[CrosswalkRow]]:
        """NDC (11 digits) -> crosswalk rows, every quarter loaded; empty when the table is absent."""
        if self._crosswalk is None:
            with self._lock:
                if self._crosswalk is None:
                    self._crosswalk = _load_crosswalk(conn) if self.has_crosswalk else {}
                    self._crosswalk_codes = {r.hcpcs for rows in self._crosswalk.values() for r in rows}
        return self._crosswalk

    def crosswalk_codes(self, conn) -> set[str]:
        self.crosswalk(conn)
        return self._crosswalk_codes

    def crosswalk_source(self, conn: sqlite3.Connection, quarter: str) -> str | None:
        if quarter not in self._xwalk_urls:
            self._xwalk_urls[quarter] = self._crosswalk_source(conn, quarter)
        return self._xwalk_urls[quarter]

    def _crosswalk_source(self, conn: sqlite3.Connection, quarter: str) -> str | None:
        if "cms_files" not in self.tables:
            return None
        row = conn.execute(
            "select source_url from cms_files where quarter = ? and kind like '%crosswalk%' "
            "and kind not like '%noc%' order by id limit 1", [quarter]).fetchone()
        return row[0] if row else None

    def opps_status(self, conn: sqlite3.Connection, code: str, dos: str) -> tuple[str | None, str | None, str | None]:
        """(status indicator, quarter or None, source URL) for a code: from the quarterly OPPS table
        when it is loaded (newest quarter), else from the codes table."""
        if code not in self._opps:
            self._opps[code] = self._opps_status(conn, code)
        return self._opps[code]

    def _opps_status(self, conn: sqlite3.Connection, code: str) -> tuple[str | None, str | None, str | None]:
        if "opps_status_indicators" in self.tables:
            row = conn.execute(
                "select status_indicator, quarter from opps_status_indicators where hcpcs = ? "
                "order by quarter desc", [code]).fetchall()
            if row:
                url = None
                if "cms_files" in self.tables:
                    hit = conn.execute("select source_url from cms_files where quarter = ? and kind like '%opps%' limit 1",
                                       [row[0][1]]).fetchone()
                    url = hit[0] if hit else None
                return row[0][0], row[0][1], url
        info = self.codes.get(code)
        if info and info["opps_status_indicator"]:
            refs = [s for s in info["source_refs"] if "opps" in (s.title or "").lower()] or info["source_refs"]
            return info["opps_status_indicator"], None, refs[0].url if refs else None
        return None, None, None


def _rows(conn, sql, params=()):
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


LIVE_RULES = "status != 'superseded' and not (origin = 'scraped' and shadowed_by is not null)"


def _load_rules(conn, payer_id: str) -> list[Rule]:
    return load_rules(conn, "payer_id = ?", [payer_id])


def load_rules(conn, where: str, params: list) -> list[Rule]:
    """Rules (superseded ones and scraped ones a manual rule overrides left out) matching `where`
    (SQL on the rules table), each with its sources: official ones first, then the newest."""
    rows = _rows(conn, f"select * from rules where {LIVE_RULES} and {where}", params)
    cited: dict[str, list[SourceRef]] = {}
    for r in _rows(conn, f"""select rs.rule_id, rs.locator, s.url, s.title, s.doc_date
                            from rule_sources rs join sources s on s.id = rs.source_id
                            where rs.rule_id in (select id from rules where {where})
                            order by s.kind = 'official' desc, s.doc_date desc""", params):
        cited.setdefault(r["rule_id"], []).append(SourceRef(r["url"], r["title"], r["doc_date"], r["locator"]))
    rules = []
    for row in rows:
        data = {k: row.get(k) for k in Rule.__dataclass_fields__ if k in row and k != "codes"}
        for key in JSON_LISTS:
            data[key] = json.loads(row[key]) if row.get(key) else []
        rules.append(Rule(**data, codes=frozenset(json.loads(row["codes"] or "[]")),
                          sources=cited.get(row["id"], [])))
    return rules


def _load_crosswalk(conn) -> dict[str, list[CrosswalkRow]]:
    cols = {r[1] for r in conn.execute("pragma table_info(ndc_hcpcs_crosswalk)")}
    wanted = list(CrosswalkRow.__dataclass_fields__)
    select = ", ".join(c if c in cols else f"null as {c}" for c in wanted)
    out: dict[str, list[CrosswalkRow]] = {}
    for row in conn.execute(f"select {select} from ndc_hcpcs_crosswalk order by quarter desc"):
        row = list(row)
        for i in (-2, -1):  # bill_units, bill_units_pkg
            row[i] = _number(row[i])
        rec = CrosswalkRow(*row)
        if rec.ndc and rec.hcpcs:
            out.setdefault(str(rec.ndc), []).append(rec)
    return out


def _number(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


_cache: dict[tuple, Knowledge] = {}
_cache_lock = threading.Lock()
_local = threading.local()
_paths: dict[int, str] = {}  # connections this module opened -> their file (they live as long as the process)


def clear_cache() -> None:
    """Forget every loaded database (benchmarks measure cold starts with it)."""
    with _cache_lock:
        _cache.clear()


def connect(db) -> sqlite3.Connection:
    """A sqlite3 connection for a path, a sqlite_utils.Database or a connection (reused per thread)."""
    if isinstance(db, sqlite3.Connection):
        return db
    if isinstance(db, sqlite_utils.Database):
        return db.conn
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    key = str(db)
    try:
        inode = os.stat(key).st_ino
    except OSError:
        raise FileNotFoundError(f"{db} does not exist: run `payerkb build` first") from None
    conn, seen = conns.get(key, (None, None))
    if conn is None or seen != inode:  # a rebuild renames a new file into place: open that one
        if conn is not None:
            _paths.pop(id(conn), None)
            conn.close()
        resolved = str(Path(key).resolve())
        conn = sqlite3.connect(f"file:{resolved}?mode=ro", uri=True)
        conns[key] = (conn, inode)
        _paths[id(conn)] = resolved
    return conn


def knowledge(conn: sqlite3.Connection) -> Knowledge:
    """The cached Knowledge for the database behind `conn` (re-read when the file changes)."""
    path = _paths.get(id(conn))
    if path is None:
        path = next((row[2] for row in conn.execute("pragma database_list") if row[1] == "main"), "")
    if path:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
    else:
        key = ("memory", id(conn))
    kb = _cache.get(key)
    if kb is not None and path == "" and kb.conn_ref is not conn:
        kb = None  # an id reused by a new in-memory connection
    if kb is None:
        with _cache_lock:
            kb = _cache.get(key)
            if kb is None:
                stale = [k for k in _cache if k[0] == key[0]]
                for old in stale if path else stale[:-7]:
                    del _cache[old]
                kb = _cache[key] = Knowledge(conn)
                if not path:
                    kb.conn_ref = conn  # holding it keeps its id from being reused while cached
    return kb
