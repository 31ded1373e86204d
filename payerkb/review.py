"""Review scraped drug-rule candidates: the only way from policies/scraped/drug-rules/ to policies/.

A scraper writes candidates (`status: needs_review`) into policies/scraped/drug-rules/<scraper>.yml;
nothing there is served. A person lists them with the table row behind each, sees what accepting
would change in policies/, and accepts or rejects them one by one or a whole source at a time:

- accept: the rule goes into policies/drug-rules/<payer>.yml (its source declared there unless
  policies/ already has a source with that URL; a drugs/<id>.yml is created for a new drug), with a
  summary made from its values in our words, `status: sourced`, `origin: manual`; the candidate
  leaves the scraped file. The result must pass `payerkb validate`, else nothing is written.
- reject: the candidate leaves the scraped file, and the review log remembers it so the next
  scrape does not offer it again.

A candidate without an effective date or a source, on an unknown code or payer, or whose drug name
matches two drugs in policies/drugs/, is refused with a message that says which and why.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from db import schema
from db.validate import Located, Policies, load_policies
from formats.files import write_atomic as write_text_atomic
from formats.scraped import REVIEW_LOG as LOG_NAME

SCRAPED_DIR = Path("scraped") / "drug-rules"
REVIEW_LOG = Path("scraped") / LOG_NAME
TOPIC_WORDS = {
    "prior_auth": "needs prior authorization",
    "step_therapy": "is in medical step therapy",
    "quantity_limit": "is held to a quantity limit",
    "billing_unit": "has a set billing unit",
    "rate": "has a set rate per unit",
    "ndc_units": "has a set way of reporting NDC units",
}


class ReviewError(Exception):
    """A review request that cannot be carried out (unknown id, nothing to review)."""


@dataclass
class Candidate:
    key: str  # <scraper>:<payer>--<rule id>, what `review accept` takes
    scraper: str
    path: Path
    rule: dict
    source: dict | None
    drug_entry: dict | None
    problems: list[str] = field(default_factory=list)
    drug_id: str | None = None  # the policies/drugs/ id it maps to (None: a new drug)
    duplicate_of: str | None = None

    @property
    def acceptable(self) -> bool:
        return not self.problems and not self.duplicate_of


def _norm(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "", (name or "").lower())


def _drug_index(kb: Policies) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for drug_id, located in kb.drugs.items():
        model = located.model
        for name in (drug_id, model.brand_name, model.generic_name, *model.aliases):
            if name:
                index.setdefault(_norm(name), set()).add(drug_id)
    return index


def _match_drug(entry: dict, index: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    for name in (entry.get("id"), entry.get("brand_name")):
        found |= index.get(_norm(name), set())
    if not found and entry.get("generic_name"):
        found |= index.get(_norm(entry["generic_name"]), set())
    return found


def load_candidates(root: Path, kb: Policies | None = None) -> list[Candidate]:
    """Every candidate under <root>/scraped/drug-rules/, each checked against policies/."""
    if kb is None:
        kb, _ = load_policies(root)
    index = _drug_index(kb)
    existing = {
        (f.model.payer_id, r.drug, r.topic, r.setting, r.effective_from): f"{f.path} ({r.id})"
        for f in kb.drug_rules for r in f.model.drug_rules
    }
    out = []
    for located in kb.scraped_drug_rules:
        model: schema.ScrapedDrugFile = located.model
        sources = {s.id: s.model_dump(exclude_none=True) for s in model.sources}
        drugs = {d.id: d.model_dump(exclude_none=True) for d in model.drugs}
        for rule in model.drug_rules:
            raw = rule.model_dump(exclude_none=True)
            ref = rule.sources[0].ref if rule.sources else None
            cand = Candidate(
                key=f"{model.scraper}:{rule.payer_id}--{rule.id}", scraper=model.scraper,
                path=Path(located.path), rule=raw, source=sources.get(ref) if ref else None,
                drug_entry=drugs.get(rule.drug, {"id": rule.drug, "brand_name": rule.drug}))
            _check(cand, kb, index)
            if not cand.problems:
                scope = (rule.payer_id, cand.drug_id or rule.drug, rule.topic, rule.setting, rule.effective_from)
                cand.duplicate_of = existing.get(scope)
            out.append(cand)
    return out


def _check(cand: Candidate, kb: Policies, index: dict[str, set[str]]) -> None:
    rule = cand.rule
    if not rule.get("effective_from"):
        cand.problems.append("no effective date: the source must give the first date of service")
    if not rule.get("sources") or cand.source is None:
        cand.problems.append("no source: a candidate must name the page it came from")
    unknown = [c for c in rule.get("codes", []) if c not in kb.code_ids]
    if unknown:
        cand.problems.append(f"unknown code(s) {', '.join(unknown)}: not in policies/reference/codes.yml")
    if rule["payer_id"] not in {p.model.id for p in kb.payers}:
        cand.problems.append(f"unknown payer {rule['payer_id']!r}: add policies/payers/{rule['payer_id']}.yml first")
    matches = _match_drug(cand.drug_entry or {}, index)
    if len(matches) > 1:
        cand.problems.append(
            f"drug name {cand.drug_entry.get('brand_name')!r} matches {len(matches)} drugs "
            f"({', '.join(sorted(matches))}): say which in policies/drugs/ (aliases) before accepting")
    elif matches:
        cand.drug_id = next(iter(matches))


def select(candidates: list[Candidate], keys: tuple[str, ...] = (), source: str | None = None) -> list[Candidate]:
    if source:
        chosen = [c for c in candidates if c.scraper == source]
        if not chosen:
            raise ReviewError(f"no candidates from source {source!r}")
        return chosen
    by_key = {c.key: c for c in candidates}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ReviewError(f"no candidate {missing[0]!r}; `payerkb review list` shows the ids")
    return [by_key[k] for k in keys]


# --- what accepting writes --------------------------------------------------------------------

def summary(cand: Candidate, brand: str) -> str:
    rule = cand.rule
    codes = " or ".join(rule["codes"])
    text = f"{brand} billed on {codes} {TOPIC_WORDS[rule['topic']]} for dates of service from {rule['effective_from']}"
    if rule.get("criteria_id"):
        text += f", under clinical criteria {rule['criteria_id']}"
    return text + "."


def _policy_source(cand: Candidate) -> dict:
    src = {k: v for k, v in cand.source.items() if k not in ("note",)}
    src["id"] = re.sub(r"^scraped-", "", src["id"])
    src.pop("undated", None) if not src.get("undated") else None
    src["note"] = f"Read by the {cand.scraper} scraper; accepted in review."
    return src


def _policy_rule(cand: Candidate, drug_id: str, brand: str, source_id: str) -> dict:
    rule = cand.rule
    out = {"id": rule["id"], "drug": drug_id, "topic": rule["topic"], "codes": list(rule["codes"])}
    if rule.get("setting", "any") != "any":
        out["setting"] = rule["setting"]
    out.update({"requirement": rule["requirement"], "summary": summary(cand, brand),
                "effective_from": rule["effective_from"]})
    for key in ("effective_to", "criteria_id", "program", "reviewer", "billing_unit", "rate_usd",
                "ndc_units", "ndc_unit_qualifier"):
        if rule.get(key) is not None:
            out[key] = rule[key]
    out["status"] = "sourced"
    locator = (rule.get("sources") or [{}])[0].get("locator")
    out["sources"] = [{"ref": source_id, **({"locator": locator} if locator else {})}]
    return out


def _dump_items(items: list[dict], indent: str) -> str:
    text = yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return "".join(indent + line + "\n" if line else "\n" for line in text.splitlines())


def _append_to_block(text: str, key: str, items: list[dict]) -> str | None:
    """`text` with `items` added at the end of its top-level block `key:` (None: no such block
    in block style, so the caller rewrites the file)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{key}:\s*(#.*)?$", line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^[A-Za-z_]", lines[i])), len(lines))
    first_item = next((lines[i] for i in range(start + 1, end) if lines[i].lstrip().startswith("- ")), None)
    indent = re.match(r"^(\s*)", first_item).group(1) if first_item else "  "
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    if lines[end - 1] and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + _dump_items(items, indent) + "".join(lines[end:])


def _add_to_rules_file(text: str | None, payer_id: str, source: dict | None, rule: dict) -> str:
    if text is None:
        data = {"payer_id": payer_id, "sources": [source] if source else [], "drug_rules": [rule]}
        if not source:
            del data["sources"]
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    new = text
    if source:
        new = _append_to_block(new, "sources", [source])
        if new is None:  # no sources block yet: put one before drug_rules
            new = _insert_before(text, "drug_rules", "sources:\n" + _dump_items([source], "  "))
    new = _append_to_block(new, "drug_rules", [rule]) if new is not None else None
    if new is None:  # an unusual layout: rewrite the file as data
        data = yaml.safe_load(text) or {}
        if source:
            data.setdefault("sources", []).append(source)
        data.setdefault("drug_rules", []).append(rule)
        new = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return new


def _insert_before(text: str, key: str, block: str) -> str | None:
    m = re.search(rf"^{key}:", text, re.M)
    return None if m is None else text[: m.start()] + block + text[m.start():]


@dataclass
class Plan:
    """The new text of every file an acceptance touches (path relative to policies/ -> text)."""

    files: dict[Path, str] = field(default_factory=dict)
    accepted: list[Candidate] = field(default_factory=list)
    refused: list[Candidate] = field(default_factory=list)

    def diff(self, root: Path) -> str:
        out = []
        for rel, new in self.files.items():
            path = root / rel
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            out.extend(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                            fromfile=f"a/policies/{rel}" if old else "/dev/null",
                                            tofile=f"b/policies/{rel}"))
        return "".join(out)


def plan_accept(root: Path, chosen: list[Candidate], kb: Policies) -> Plan:
    plan = Plan()
    # sources policies/ already declares (not the scraped files', which go away with their candidates)
    urls = {src.url: sid for sid, (src, where) in kb.sources.items() if "scraped" not in Path(where).parts}
    declared: dict[str, str] = {}  # url -> id, for sources this plan declares
    for cand in chosen:
        if not cand.acceptable:
            plan.refused.append(cand)
            continue
        payer_id = cand.rule["payer_id"]
        drug_id = cand.drug_id or cand.rule["drug"]
        brand = (kb.drugs[drug_id].model.brand_name if drug_id in kb.drugs
                 else cand.drug_entry.get("brand_name", drug_id))
        if drug_id not in kb.drugs and Path("drugs") / f"{drug_id}.yml" not in plan.files:
            entry = {"id": drug_id, "brand_name": brand}
            if cand.drug_entry.get("generic_name"):
                entry["generic_name"] = cand.drug_entry["generic_name"]
            plan.files[Path("drugs") / f"{drug_id}.yml"] = yaml.safe_dump(entry, sort_keys=False, allow_unicode=True)
        url = cand.source["url"]
        new_source = None
        if url in urls:
            source_id = urls[url]
        elif url in declared:
            source_id = declared[url]
        else:
            new_source = _policy_source(cand)
            source_id = declared[url] = new_source["id"]
        rel = Path("drug-rules") / f"{payer_id}.yml"
        current = plan.files.get(rel)
        if current is None and (root / rel).exists():
            current = (root / rel).read_text(encoding="utf-8")
        plan.files[rel] = _add_to_rules_file(current, payer_id, new_source, _policy_rule(cand, drug_id, brand, source_id))
        plan.accepted.append(cand)
    _remove_from_scraped(root, plan, plan.accepted)
    return plan


def _remove_from_scraped(root: Path, plan: Plan, done: list[Candidate]) -> None:
    by_file: dict[Path, set[str]] = {}
    for cand in done:
        by_file.setdefault(cand.path, set()).add(cand.key)
    for path, keys in by_file.items():
        full = root / SCRAPED_DIR / path.name
        data = yaml.safe_load(full.read_text(encoding="utf-8"))
        data["drug_rules"] = [r for r in data.get("drug_rules", [])
                              if f"{data['scraper']}:{r['payer_id']}--{r['id']}" not in keys]
        used_sources = {s["ref"] for r in data["drug_rules"] for s in r.get("sources", [])}
        used_drugs = {r["drug"] for r in data["drug_rules"]}
        data["sources"] = [s for s in data.get("sources", []) if s["id"] in used_sources]
        data["drugs"] = [d for d in data.get("drugs", []) if d["id"] in used_drugs]
        rel = full.relative_to(root)
        plan.files[rel] = "" if not data["drug_rules"] else (
            "# Written by `payerkb scrape`; reviewed candidates removed by `payerkb review`.\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False))


def apply(root: Path, plan: Plan) -> list[str]:
    """Check the planned files in a copy of policies/, then write them; returns the problems
    (nothing is written when there is any)."""
    with tempfile.TemporaryDirectory(prefix="payerkb-review-") as tmp:
        copy = Path(tmp) / "policies"
        shutil.copytree(root, copy)
        for rel, text in plan.files.items():
            target = copy / rel
            if text == "":
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        _, problems = load_policies(copy)
    if problems:
        return [str(p).replace(str(copy), "policies") for p in problems]
    for rel, text in plan.files.items():
        if text == "":
            (root / rel).unlink(missing_ok=True)
        else:
            write_text_atomic(root / rel, text)
    return []


def log(root: Path, action: str, candidates: list[Candidate], why: str | None = None) -> None:
    path = root / REVIEW_LOG
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    lines = []
    for c in candidates:
        entry = {"at": now, "action": action, "candidate": c.key, "payer_id": c.rule["payer_id"],
                 "drug": c.rule["drug"], "topic": c.rule["topic"], "effective_from": c.rule.get("effective_from"),
                 "source_url": (c.source or {}).get("url")}
        if why:
            entry["why"] = why
        lines.append(json.dumps(entry, sort_keys=True) + "\n")
    write_text_atomic(path, before + "".join(lines))


def plan_reject(root: Path, chosen: list[Candidate]) -> Plan:
    plan = Plan(accepted=[])
    _remove_from_scraped(root, plan, chosen)
    return plan
