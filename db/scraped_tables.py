"""Load what scrapers wrote under policies/scraped/ besides rules: the fetch log, documents and
coverage articles; and add the `scraped_disagreements` view.

- policies/scraped/fetch-log.jsonl -> `fetches` (one row per fetch, oldest first)
- policies/scraped/records/<source>.yml -> `documents`, `coverage_articles`, `coverage_article_codes`

Their formats are formats/scraped.py's, which the scrapers write with. (The scraped rules
themselves, policies/scraped/<source>.yml, are loaded by db/build.py.)
Every table exists even when nothing was scraped yet. A record that does not fit stops the
build with `file:line: message`, and the previous database keeps serving.
"""
from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils
from pydantic import ValidationError

from db.errors import BuildError
from db.validate import Problem, display_path
from db.yamlload import PolicyYAMLError, line_of, load_yaml
from formats.messages import describe
from formats.scraped import FETCH_LOG, FLAG_NAMES, RECORDS, FetchRecord, RecordsFile


def _create(db: sqlite_utils.Database) -> None:
    db["fetches"].create(
        {"id": int, "scraper": str, "url": str, "fetched_at": str, "status_code": int,
         "sha256": str, "changed": int, "from_cache": int, "fixture": int, "error": str},
        pk="id", not_null={"scraper", "url", "fetched_at"})
    db["documents"].create(
        {"id": str, "scraper": str, "payer_id": str, "publisher": str, "title": str,
         "number": str, "url": str, "format": str, "doc_date": str, "effective_date": str,
         "status": str, "flags": str, "flag_unlisted_drugs": int, "flag_ndc": int,
         "flag_wastage": int, "index_url": str, "retrieved": str, "sha256": str, "fixture": int,
         "file": str},
        pk="id", not_null={"title", "url"})
    db["coverage_articles"].create(
        {"id": str, "article_id": int, "version": int, "title": str, "contractor": str,
         "contract_type": str, "payer_ids": str, "effective_date": str, "updated_on": str,
         "retirement_date": str, "url": str, "noc_codes": str, "scraper": str, "retrieved": str,
         "sha256": str, "fixture": int, "file": str},
        pk="id")
    db["coverage_article_codes"].create(
        {"article_id": str, "code": str, "group_num": int, "description": str, "is_noc": int},
        pk=("article_id", "code", "group_num"),
        foreign_keys=[("article_id", "coverage_articles", "id")])


def _problems_from(exc: ValidationError, raw, path: str, offset: int = 0) -> list[Problem]:
    out = []
    for err in exc.errors():
        line = offset or line_of(raw, tuple(err["loc"]))
        out.append(Problem(path, line, describe(err)))
    return out


def read_fetch_log(path: Path) -> tuple[list[FetchRecord], list[Problem]]:
    rows, problems = [], []
    if not path.exists():
        return rows, problems
    shown = display_path(path)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(FetchRecord.model_validate(json.loads(line)))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                problems.extend(_problems_from(exc, None, shown, n))
            else:
                problems.append(Problem(shown, n, f"not a JSON record: {exc}"))
    return rows, problems


def read_records(folder: Path) -> tuple[list[tuple[RecordsFile, str]], list[Problem]]:
    files, problems = [], []
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        shown = display_path(path)
        try:
            raw = load_yaml(path)
        except PolicyYAMLError as exc:
            problems.append(Problem(shown, exc.line, exc.message))
            continue
        try:
            files.append((RecordsFile.model_validate(raw), shown))
        except ValidationError as exc:
            problems.extend(_problems_from(exc, raw, shown))
    return files, problems


def load_scraped_tables(db: sqlite_utils.Database, kb, out_path) -> None:
    scraped = Path(kb.root) / "scraped"
    _create(db)
    fetches, problems = read_fetch_log(scraped / FETCH_LOG)
    files, more = read_records(scraped / RECORDS)
    problems += more

    documents, articles, codes = {}, {}, {}
    for records, path in files:
        for doc in records.documents:
            if doc.id in documents:
                problems.append(Problem(path, 1, f"document id {doc.id!r} also in {documents[doc.id]['file']}"))
                continue
            row = doc.model_dump(exclude={"flags", "fixture"})
            row.update({"flags": json.dumps(doc.flags), "fixture": int(doc.fixture), "file": path})
            row.update({f"flag_{name}": int(name in doc.flags) for name in FLAG_NAMES})
            documents[doc.id] = row
        for art in records.coverage_articles:
            if art.id in articles:
                problems.append(Problem(path, 1, f"coverage article {art.id} also in {articles[art.id]['file']}"))
                continue
            row = art.model_dump(exclude={"payer_ids", "noc_codes", "fixture"})
            row.update({"payer_ids": json.dumps(art.payer_ids), "noc_codes": json.dumps(art.noc_codes),
                        "fixture": int(art.fixture), "scraper": records.scraper, "file": path})
            articles[art.id] = row
        for code in records.coverage_article_codes:
            if code.article_id not in {a.id for a in records.coverage_articles}:
                problems.append(Problem(path, 1, f"code {code.code} names article {code.article_id}, which this file does not list"))
                continue
            codes[(code.article_id, code.code, code.group_num)] = {**code.model_dump(), "is_noc": int(code.is_noc)}
    if problems:
        raise BuildError(f"{len(problems)} problem(s) in {display_path(scraped)}; the database was not changed",
                         sorted(set(problems)))

    db["fetches"].insert_all(
        ({"id": i, **row.model_dump(), "changed": int(row.changed), "from_cache": int(row.from_cache),
          "fixture": int(row.fixture)} for i, row in enumerate(fetches, 1)))
    db["documents"].insert_all(documents.values())
    db["coverage_articles"].insert_all(articles.values())
    db["coverage_article_codes"].insert_all(codes.values())
    for table, cols in (("fetches", ["url"]), ("fetches", ["scraper"]), ("fetches", ["changed"]),
                        ("documents", ["payer_id"]), ("documents", ["scraper"]),
                        ("coverage_article_codes", ["code"])):
        db[table].create_index(cols, if_not_exists=True)
    db["documents"].enable_fts(["title", "publisher", "number"], tokenize="porter", replace=True,
                               create_triggers=False)
    db["documents"].rebuild_fts()
    _disagreements_view(db)


COMPARED = ("requirement", "threshold_usd", "pricing_basis", "percent", "max_chars", "unit_rule",
            "claim_field", "modifiers", "narrative_rejects", "invoice_max_age_days")


def _disagreements_view(db: sqlite_utils.Database) -> None:
    pairs = ",\n  ".join(f"s.{c} as scraped_{c}, m.{c} as manual_{c}" for c in COMPARED)
    differs = " ||\n  ".join(
        f"case when s.{c} is not null and m.{c} is not null and s.{c} != m.{c} then '{c} ' else '' end"
        for c in COMPARED)
    db.create_view("scraped_disagreements", f"""
select * from (
select s.payer_id, s.topic, s.id as scraped_rule_id, m.id as manual_rule_id,
  trim({differs}) as differs_on,
  {pairs},
  s.summary as scraped_summary, m.summary as manual_summary, m.status as manual_status,
  (select group_concat(src.url, ' ') from rule_sources rs join sources src on src.id = rs.source_id
    where rs.rule_id = s.id) as scraped_source_urls,
  (select group_concat(src.url, ' ') from rule_sources rs join sources src on src.id = rs.source_id
    where rs.rule_id = m.id) as manual_source_urls
from rules s join rules m on m.id = s.shadowed_by
where s.origin = 'scraped')
where differs_on != ''
order by payer_id, topic""", replace=True)
