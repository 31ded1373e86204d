"""Write what a source yielded into policies/scraped/ (or another folder), never half a file.

- <out>/<source>.yml: the rules and their sources (db/schema.py `ScrapedFile`),
- <out>/records/<source>.yml: documents and coverage articles (formats/scraped.py `RecordsFile`),
- <out>/drug-rules/<source>.yml: candidate drug rules (db/schema.py `ScrapedDrugFile`), never served:
  `payerkb review` moves the ones a person accepts into policies/drug-rules/,
- <out>/fetch-log.jsonl: one line per fetch (formats/scraped.py `FetchRecord`), appended (the
  history change tracking reads).

Each file is written to a temporary file beside it and renamed into place, so a crash or a
failed source leaves the last good file. Before writing, records are checked against what
policies/ knows (payer ids, codes, claim fields, modifiers, denial codes), so the validator
never meets a scraped rule it would refuse: unknown values are dropped and reported.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from formats.files import write_atomic as write_text_atomic
from formats.scraped import FETCH_LOG, REVIEW_LOG, FetchRecord
from scrapers.registry import ScrapeResult

REPO_SCRAPED = Path(__file__).resolve().parent.parent / "policies" / "scraped"
HEADER = ("# Written by `payerkb scrape {name}`; do not edit: the next run replaces it.\n"
          "# Scraped rules wait for review (status needs_review); facts are confirmed by copying\n"
          "# them into policies/payers/ or policies/groups/ with a person's check.\n")


class UnsafeOutput(Exception):
    """Fixture-made records aimed at the real knowledge base."""


@dataclass
class Vocabulary:
    payers: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    claim_fields: set[str] = field(default_factory=set)
    modifiers: set[str] = field(default_factory=set)
    denial_codes: set[str] = field(default_factory=set)

    @classmethod
    def from_policies(cls, root: Path | str) -> "Vocabulary":
        root = Path(root)

        def ids(rel: str, key: str, attr: str) -> set[str]:
            path = root / rel
            if not path.exists():
                return set()
            data = yaml.safe_load(path.read_text()) or {}
            return {str(item[attr]) for item in data.get(key, []) if isinstance(item, dict) and attr in item}

        return cls(
            payers={p.stem for p in (root / "payers").glob("*.yml")},
            codes=ids("reference/codes.yml", "codes", "code"),
            claim_fields=ids("reference/claim_fields.yml", "claim_fields", "id"),
            modifiers=ids("reference/modifiers.yml", "modifiers", "code"),
            denial_codes=ids("reference/denial_codes.yml", "denial_codes", "code"),
        )


def fit_to_vocabulary(result: ScrapeResult, vocab: Vocabulary) -> None:
    """Drop what policies/ does not know, and say what was dropped (in result.warnings)."""
    kept, missing_payers = [], {}
    for rule in result.rules:
        if rule["payer_id"] not in vocab.payers:
            missing_payers[rule["payer_id"]] = missing_payers.get(rule["payer_id"], 0) + 1
            continue
        rule["codes"] = [c for c in rule["codes"] if c in vocab.codes]
        if not rule["codes"]:
            result.warnings.append(f"rule {rule['id']} dropped: none of its codes is in policies/reference/codes.yml")
            continue
        for key, known in (("claim_fields", vocab.claim_fields), ("modifiers", vocab.modifiers),
                           ("denial_codes", vocab.denial_codes)):
            if key in rule:
                rule[key] = [v for v in rule[key] if v in known]
                if not rule[key]:
                    del rule[key]
        kept.append(rule)
    for payer_id, n in missing_payers.items():
        result.warnings.append(f"{n} rule(s) for {payer_id} dropped: there is no policies/payers/{payer_id}.yml yet")
    result.rules = kept
    _fit_drug_rules(result, vocab)
    for doc in result.documents:
        if doc.get("payer_id") and doc["payer_id"] not in vocab.payers:
            doc["payer_id"] = None
    for article in result.coverage_articles:
        article["payer_ids"] = [p for p in article["payer_ids"] if p in vocab.payers]


def _fit_drug_rules(result: ScrapeResult, vocab: Vocabulary) -> None:
    kept, missing_payers = [], {}
    for rule in result.drug_rules:
        if rule["payer_id"] not in vocab.payers:
            missing_payers[rule["payer_id"]] = missing_payers.get(rule["payer_id"], 0) + 1
            continue
        rule["codes"] = [c for c in rule["codes"] if c in vocab.codes]
        if not rule["codes"]:
            result.warnings.append(f"drug rule {rule['id']} dropped: none of its codes is in policies/reference/codes.yml")
            continue
        kept.append(rule)
    for payer_id, n in missing_payers.items():
        result.warnings.append(f"{n} drug rule(s) for {payer_id} dropped: there is no policies/payers/{payer_id}.yml yet")
    result.drug_rules = kept
    used = {r["drug"] for r in kept}
    result.drugs = [d for d in result.drugs if d["id"] in used]


def is_knowledge_base(out_dir: Path) -> bool:
    out = Path(out_dir).resolve()
    return out in {REPO_SCRAPED.resolve(), (Path.cwd() / "policies" / "scraped").resolve()}


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def write_result(out_dir: Path, name: str, result: ScrapeResult, retrieved: str, *,
                 from_fixture: bool) -> list[Path]:
    """Write one source's files; returns the paths written."""
    out_dir = Path(out_dir)
    if from_fixture and is_knowledge_base(out_dir):
        raise UnsafeOutput(
            f"{name}: these records come from offline fixtures (invented content); they are never "
            f"written into {out_dir}. Give --out another folder.")
    written = []
    header = HEADER.format(name=name)
    if result.rules:
        path = out_dir / f"{name}.yml"
        write_text_atomic(path, header + _yaml(
            {"scraper": name, "retrieved": retrieved, "sources": result.sources, "rules": result.rules}))
        written.append(path)
    if result.documents or result.coverage_articles:
        path = out_dir / "records" / f"{name}.yml"
        write_text_atomic(path, header + _yaml({
            "scraper": name, "retrieved": retrieved, "documents": result.documents,
            "coverage_articles": result.coverage_articles,
            "coverage_article_codes": result.coverage_article_codes,
        }))
        written.append(path)
    rejected = rejected_candidates(out_dir)
    urls = {s["id"]: s["url"] for s in result.drug_sources}
    result.drug_rules = [
        r for r in result.drug_rules
        if (r["payer_id"], r["drug"], r["topic"], r.get("effective_from"), urls.get(r["sources"][0]["ref"])) not in rejected
    ]
    if result.drug_rules:
        path = out_dir / "drug-rules" / f"{name}.yml"
        write_text_atomic(path, header + _yaml({
            "scraper": name, "retrieved": retrieved, "sources": result.drug_sources,
            "drugs": result.drugs, "drug_rules": result.drug_rules}))
        written.append(path)
    return written


def rejected_candidates(out_dir: Path) -> set[tuple]:
    """(payer, drug, topic, effective_from, source url) of every candidate a person rejected."""
    path = Path(out_dir) / REVIEW_LOG
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(e, dict) and e.get("action") == "reject":
            out.add((e.get("payer_id"), e.get("drug"), e.get("topic"), e.get("effective_from"), e.get("source_url")))
    return out


def append_fetch_log(out_dir: Path, records: list[FetchRecord]) -> Path:
    path = Path(out_dir) / FETCH_LOG
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    write_text_atomic(path, before + "".join(r.to_json() + "\n" for r in records))
    return path
