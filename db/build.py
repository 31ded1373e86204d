"""Build db/payerkb.db from policies/ with sqlite-utils.

The database is written to a temporary file beside the target and renamed into place only when
every step succeeded, so a failed or killed build leaves the last good database serving.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from db import drug_tables, matrix, schema
from db.as_of import as_of
from db.bulk import insert_rows
from db.errors import BuildError  # noqa: F401 - defined in db/errors.py; callers may still catch db.build.BuildError
from db.leftovers import owner_running
from db.validate import Policies, effective_rules, load_policies

TOPIC_COLUMNS = schema.TOPICS


@dataclass
class BuildResult:
    path: Path
    payers: int
    rules: int
    sources: int
    seconds: float

    def summary(self) -> str:
        return (
            f"built {self.path}: {self.payers} payers, {self.rules} rules, "
            f"{self.sources} sources in {self.seconds:.2f} s"
        )


def _json(value) -> str | None:
    return json.dumps(value) if value else None


def rule_id(payer_id: str, key: str) -> str:
    return f"{payer_id}--{key}"


def _as_of(rule: schema.Rule, kb: Policies) -> tuple[str | None, bool]:
    return as_of([kb.sources[ref.ref][0] for ref in rule.sources if ref.ref in kb.sources], rule.as_of)


def _rule_row(rule: schema.Rule, payer, kb: Policies, located, loc, group_id, origin=None,
              noc: list[str] | None = None) -> dict:
    official = any(
        kb.sources[r.ref][0].kind == "official" for r in rule.sources if r.ref in kb.sources
    )
    if rule.codes == "all":
        codes = kb.noc_codes if noc is None else noc
    else:
        codes = list(rule.codes)
    return {
        "id": rule_id(payer.id, rule.id),
        "payer_id": payer.id,
        "payer_name": payer.name,
        "rule_key": rule.id,
        "topic": rule.topic,
        "setting": rule.setting,
        "requirement": rule.requirement,
        "summary": rule.summary,
        "codes": json.dumps(codes),
        "threshold_usd": rule.threshold_usd,
        "pricing_basis": rule.pricing_basis,
        "percent": rule.percent,
        "claim_field": _json(rule.claim_fields),
        "max_chars": rule.max_chars,
        "unit_rule": rule.unit_rule,
        "modifiers": _json(rule.modifiers),
        "ndc_unit_qualifiers": _json(rule.ndc_unit_qualifiers),
        "ndc_format": rule.ndc_format,
        "narrative_elements": _json(rule.narrative_elements),
        "narrative_rejects": _json(rule.narrative_rejects),
        "invoice_max_age_days": rule.invoice_max_age_days,
        "submission_channel": rule.submission_channel,
        "denial_codes": _json(rule.denial_codes),
        "exceptions": _json(rule.exceptions),
        "effective_from": rule.effective_from,
        "effective_to": rule.effective_to,
        "as_of": (dated := _as_of(rule, kb))[0],
        "as_of_undated": int(dated[1]),
        "status": rule.status,
        "origin": origin or rule.origin,
        "group_id": group_id,
        "source_count": len(rule.sources),
        "has_official_source": int(official),
        "shadowed_by": None,
        "note": rule.note,
        "file": located.path,
        "line": located.line(*loc),
    }


RULE_COLUMNS = {
    "id": str, "payer_id": str, "payer_name": str, "rule_key": str, "topic": str, "setting": str,
    "requirement": str, "summary": str, "codes": str, "threshold_usd": float, "pricing_basis": str,
    "percent": float, "claim_field": str, "max_chars": int, "unit_rule": str, "modifiers": str,
    "ndc_unit_qualifiers": str, "ndc_format": str, "narrative_elements": str,
    "narrative_rejects": str, "invoice_max_age_days": int, "submission_channel": str,
    "denial_codes": str, "exceptions": str, "effective_from": str, "effective_to": str, "as_of": str, "as_of_undated": int, "status": str,
    "origin": str, "group_id": str, "source_count": int, "has_official_source": int,
    "shadowed_by": str, "note": str, "file": str, "line": int,
}


def _create_tables(db: sqlite_utils.Database) -> None:
    db["payers"].create(
        {"id": str, "name": str, "parent_org": str, "payer_type": str, "states": str,
         "jurisdiction": str, "website": str, "aliases": str, "includes": str, "note": str,
         "file": str},
        pk="id", not_null={"name", "payer_type"},
    )
    db["payer_states"].create({"payer_id": str, "state": str}, pk=("payer_id", "state"),
                              foreign_keys=[("payer_id", "payers", "id")])
    db["codes"].create(
        {"code": str, "short_descriptor": str, "long_descriptor": str, "category": str,
         "drug_kind": str, "setting": str, "is_noc": int, "opps_status_indicator": str,
         "add_date": str, "term_date": str, "note": str, "sources": str},
        pk="code",
    )
    db["sources"].create(
        {"id": str, "url": str, "title": str, "publisher": str, "document_id": str,
         "doc_date": str, "undated": int, "retrieved": str, "kind": str, "sha256": str,
         "note": str, "file": str},
        pk="id", not_null={"url", "title", "retrieved", "kind"},
    )
    db["rules"].create(RULE_COLUMNS, pk="id", not_null={"payer_id", "topic", "requirement", "status"},
                       foreign_keys=[("payer_id", "payers", "id")])
    db["rule_codes"].create({"rule_id": str, "code": str}, pk=("rule_id", "code"),
                            foreign_keys=[("rule_id", "rules", "id"), ("code", "codes", "code")])
    db["rule_sources"].create({"rule_id": str, "source_id": str, "locator": str},
                              pk=("rule_id", "source_id"),
                              foreign_keys=[("rule_id", "rules", "id"), ("source_id", "sources", "id")])
    db["modifiers"].create(
        {"code": str, "meaning": str, "use": str, "effective_from": str, "required_from": str,
         "effective_to": str, "status": str, "sources": str}, pk="code")
    db["denial_codes"].create(
        {"code": str, "kind": str, "meaning": str, "prevention": str, "topics": str,
         "status": str, "sources": str}, pk="code")
    db["claim_fields"].create({"id": str, "label": str, "form": str, "note": str}, pk="id")
    db["synonyms"].create({"group_id": int, "term": str}, pk=("group_id", "term"))


def _gap_row(payer: schema.Payer, topic: str, kb: Policies, noc: list[str] | None = None) -> dict:
    row = {col: None for col in RULE_COLUMNS}
    row.update(
        id=rule_id(payer.id, f"gap-{topic.replace('_', '-')}"),
        payer_id=payer.id, payer_name=payer.name, rule_key=f"gap-{topic.replace('_', '-')}",
        topic=topic, setting="any", requirement="unknown",
        summary=f"No public source found yet for this payer's {topic.replace('_', ' ')} rules on NOC drug claims.",
        codes=json.dumps(kb.noc_codes if noc is None else noc), status="unconfirmed", origin="gap",
        source_count=0, has_official_source=0,
    )
    return row


def _insert(db: sqlite_utils.Database, kb: Policies) -> tuple[int, int]:
    # sources declared only by scraped drug-rule candidates are not served (payerkb review moves them)
    candidates = {located.path for located in kb.scraped_drug_rules}
    insert_rows(db, "sources", (
        {**src.model_dump(exclude={"undated"}), "undated": int(src.undated), "file": path}
        for src, path in kb.sources.values() if path not in candidates))
    db["codes"].insert_all(
        {**c.model_dump(exclude={"sources", "is_noc"}), "is_noc": int(c.is_noc),
         "sources": json.dumps([s.ref for s in c.sources])}
        for c in kb.codes
    )
    db["modifiers"].insert_all(
        {**m.model_dump(exclude={"sources"}), "sources": json.dumps([s.ref for s in m.sources])}
        for m in kb.modifiers
    )
    db["denial_codes"].insert_all(
        {**d.model_dump(exclude={"sources", "topics"}), "topics": json.dumps(d.topics),
         "sources": json.dumps([s.ref for s in d.sources])}
        for d in kb.denial_codes
    )
    db["claim_fields"].insert_all(c.model_dump() for c in kb.claim_fields)
    db["synonyms"].insert_all(
        {"group_id": i, "term": term} for i, group in enumerate(kb.synonyms, 1) for term in dict.fromkeys(group)
    )

    noc = kb.noc_codes
    rules = _RuleWriter(db, noc)
    insert_rows(db, "payers", ({
        "id": p.id, "name": p.name, "parent_org": p.parent_org, "payer_type": p.payer_type,
        "states": _json(p.states), "jurisdiction": p.jurisdiction, "website": p.website,
        "aliases": _json(p.aliases), "includes": _json(p.includes), "note": p.note, "file": located.path,
    } for located in kb.payers for p in [located.model]))
    insert_rows(db, "payer_states", ((located.model.id, s) for located in kb.payers for s in dict.fromkeys(located.model.states)),
                columns=["payer_id", "state"])
    # (payer, topic) -> [(rule id, setting)] of manual rules, for the scraped rules they shadow
    manual: dict[tuple[str, str], list[tuple[str, str]]] = {}
    gaps: list[tuple[schema.Payer, str]] = []
    for located in kb.payers:
        payer = located.model
        covered = set()
        for rule, rule_file, loc, group_id in effective_rules(kb, located):
            row = _rule_row(rule, payer, kb, rule_file, loc, group_id, noc=noc)
            if row["origin"] != "scraped":
                covered.add(rule.topic)
            if row["origin"] == "manual" and kb.scraped:
                manual.setdefault((payer.id, rule.topic), []).append((row["id"], row["setting"]))
            rules.add(row, rule)
        gaps.extend((payer, topic) for topic in TOPIC_COLUMNS if topic not in covered)

    payers_by_id = {p.model.id: p.model for p in kb.payers}
    for scraped in kb.scraped:
        for i, rule in enumerate(scraped.model.rules):
            payer = payers_by_id[rule.payer_id]
            row = _rule_row(rule, payer, kb, scraped, ("rules", i), None, origin="scraped", noc=noc)
            row["id"] = rule_id(payer.id, f"scraped-{scraped.model.scraper}-{rule.id}")
            shadows = [rid for rid, setting in manual.get((payer.id, rule.topic), []) if setting in (rule.setting, "any")]
            row["shadowed_by"] = shadows[0] if shadows else None
            rules.add(row, rule)

    for payer, topic in gaps:
        rules.add(_gap_row(payer, topic, kb, noc=noc), None)
    rules.flush()
    return len(payers_by_id), rules.count


class _RuleWriter:
    """Rows of rules, rule_codes and rule_sources, written in batches as they come (at 100,000
    payers the rule_codes rows alone would take gigabytes held at once). Each table still gets
    its rows in the order they were added, and a batch's rules go in before their codes."""

    BATCH = 20_000

    def __init__(self, db: sqlite_utils.Database, noc: list[str]):
        self.db, self.noc, self.count = db, noc, 0
        self.rules: list[dict] = []
        self.codes: list[tuple] = []
        self.sources: list[tuple] = []

    def add(self, row: dict, rule: schema.Rule | None) -> None:
        """A rule's row, its codes and sources (rule None: a gap, which covers every NOC code)."""
        self.rules.append(row)
        codes = self.noc if rule is None or rule.codes == "all" else rule.codes
        self.codes.extend((row["id"], c) for c in codes)
        if rule is not None:
            self.sources.extend((row["id"], r.ref, r.locator) for r in rule.sources)
        if len(self.rules) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        self.count += insert_rows(self.db, "rules", self.rules)
        insert_rows(self.db, "rule_codes", self.codes, columns=["rule_id", "code"])
        insert_rows(self.db, "rule_sources", self.sources, columns=["rule_id", "source_id", "locator"])
        self.rules, self.codes, self.sources = [], [], []


def _indexes_and_fts(db: sqlite_utils.Database) -> None:
    for table, cols in (
        ("rules", ["payer_id"]), ("rules", ["topic"]), ("rules", ["status"]),
        ("rules", ["requirement"]), ("rules", ["pricing_basis"]), ("rules", ["payer_id", "topic"]),
        ("rule_codes", ["code"]), ("rule_sources", ["source_id"]), ("payers", ["payer_type"]),
        ("payer_states", ["state"]), ("sources", ["doc_date"]),
    ):
        db[table].create_index(cols, if_not_exists=True)
    fts = {
        "rules": ["summary", "payer_name", "topic", "pricing_basis", "note"],
        "payers": ["name", "parent_org", "aliases", "jurisdiction", "states"],
        "sources": ["title", "publisher", "document_id", "url"],
        "codes": ["code", "short_descriptor", "long_descriptor", "category"],
    }
    for table, cols in fts.items():
        db[table].enable_fts(cols, tokenize="porter", create_triggers=False, replace=True)
        db[table].rebuild_fts()
        db.execute(f"insert into {table}_fts({table}_fts, rank) values('integrity-check', 1)")


def _views(db: sqlite_utils.Database) -> None:
    # one cell and footing per topic, decided as the /-/matrix page decides it (db/matrix.py)
    db.create_view("payer_matrix", matrix.select_sql(TOPIC_COLUMNS), replace=True)
    db.create_view("j3590_rules", """
select r.id as rule_id, r.payer_id, p.name as payer_name, p.payer_type, p.states, r.topic,
  r.setting, r.requirement, r.summary, r.threshold_usd, r.pricing_basis, r.percent,
  r.claim_field, r.max_chars, r.unit_rule, r.modifiers, r.effective_from, r.as_of, r.status,
  r.origin,
  (select group_concat(s.url, ' ') from rule_sources rs join sources s on s.id = rs.source_id
    where rs.rule_id = r.id) as source_urls
from rules r join rule_codes rc on rc.rule_id = r.id and rc.code = 'J3590'
join payers p on p.id = r.payer_id
order by p.payer_type, p.name, r.topic""", replace=True)
    db.create_view("rule_citations", """
select r.id as rule_id, r.payer_id, r.topic, r.requirement, r.status, s.id as source_id,
  s.url, s.title, s.publisher, s.kind, s.doc_date, s.undated, s.retrieved, rs.locator
from rules r join rule_sources rs on rs.rule_id = r.id join sources s on s.id = rs.source_id""", replace=True)
    db.create_view("stale_sources", """
select s.*, cast(julianday('now') - julianday(s.doc_date) as integer) as age_days,
  (select count(*) from rule_sources rs where rs.source_id = s.id) as rules_citing,
  (select group_concat(distinct r.payer_id) from rule_sources rs join rules r on r.id = rs.rule_id
    where rs.source_id = s.id) as payers
from sources s
where s.doc_date is not null and s.doc_date < date('now', '-3 years')
order by s.doc_date""", replace=True)


def build(policies: Path | str = "policies", out: Path | str = "db/payerkb.db", extra_steps=None) -> BuildResult:
    """Validate, then build the database atomically. Raises BuildError on any problem."""
    started = time.perf_counter()
    out = Path(out)
    kb, problems = load_policies(policies)
    if problems:
        raise BuildError(f"{len(problems)} problem(s) in {policies}; the database was not changed", problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    for leftover in out.parent.glob(f"{out.name}.tmp-*"):
        if not owner_running(leftover):
            leftover.unlink(missing_ok=True)  # left by a build that was killed half-way
    try:
        db = sqlite_utils.Database(tmp)
        db.conn.execute("pragma journal_mode = off")
        db.conn.execute("pragma synchronous = off")
        db.conn.execute("pragma foreign_keys = on")
        build_id = uuid.uuid4().hex
        with db.conn:
            _create_tables(db)
            # the id the search index of this build is filed under (db/search_index.py)
            db["payerkb_build"].insert({"build_id": build_id, "built_at": _now()})
            n_payers, n_rules = _insert(db, kb)
            drug_tables.load_drug_tables(db, kb)
        _indexes_and_fts(db)
        drug_tables.indexes_and_fts(db)
        _views(db)
        steps = default_steps() if extra_steps is None else (extra_steps, [])
        for step in steps[0]:
            step(db, kb, out)
        bad_fk = db.execute("pragma foreign_key_check").fetchall()
        if bad_fk:
            raise BuildError(f"foreign key check failed: {bad_fk[:5]}")
        db.execute("pragma optimize")
        db.conn.commit()
        db.close()
        # steps on the finished file (the search index for this build id) run before the rename:
        # the rename is the one moment database and index change, together
        for step in steps[1]:
            step(tmp, kb, out)
        from db.search_index import prune_indexes, read_build_id  # whoosh only when building

        previous = read_build_id(out)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    prune_indexes(out, keep={build_id, previous} - {None})
    served = len(kb.sources) - sum(1 for _, path in kb.sources.values()
                                   if path in {loc.path for loc in kb.scraped_drug_rules})
    return BuildResult(out, n_payers, n_rules, served, time.perf_counter() - started)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def default_steps() -> tuple[list, list]:
    """Further build steps: (on the new database; on its finished file), all before the rename."""
    from db import steps

    return steps.STEPS, steps.FILE_STEPS
