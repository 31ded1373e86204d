"""Read every file under policies/, check it, and report each problem as `file:line: message`.

`load_policies()` returns the checked knowledge base (`Policies`) and the list of `Problem`s.
A build refuses to run while there is any problem.
"""
from __future__ import annotations

import difflib
import functools
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from db import schema
from db.yamlload import LineDict, PolicyYAMLError, compact_line_of, compact_lines, line_of, load_yaml
from formats.messages import describe


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Located:
    """A validated model with the file it came from, and the lines of what the file holds.

    Only the lines of the file's top two levels are kept (`lines`: a rule's line, an id's line);
    a line deeper down, wanted only for a problem's message, is found by reading the file again.
    `raw` (the YAML as read, LineDict) is given instead by callers that have it in hand.
    """

    model: Any
    path: str
    raw: Any = None
    file: Path | None = None
    lines: tuple | None = None

    def line(self, *loc) -> int:
        if self.raw is None and self.lines is not None:
            found = compact_line_of(self.lines, loc)
            if found is not None:
                return found
            try:
                self.raw = load_yaml(self.file)
            except PolicyYAMLError:  # changed on disk since it was read: the nearest line known
                return compact_line_of(self.lines, loc[:1])
        return line_of(self.raw, loc)


@dataclass
class Policies:
    root: Path
    payers: list[Located] = field(default_factory=list)
    groups: dict[str, Located] = field(default_factory=dict)
    scraped: list[Located] = field(default_factory=list)
    drugs: dict[str, Located] = field(default_factory=dict)
    drug_rules: list[Located] = field(default_factory=list)
    scraped_drug_rules: list[Located] = field(default_factory=list)  # candidates, never served
    sources: dict[str, tuple[schema.Source, str]] = field(default_factory=dict)
    codes: list[schema.Code] = field(default_factory=list)
    modifiers: list[schema.Modifier] = field(default_factory=list)
    denial_codes: list[schema.DenialCode] = field(default_factory=list)
    claim_fields: list[schema.ClaimField] = field(default_factory=list)
    synonyms: list[list[str]] = field(default_factory=list)

    @property
    def code_ids(self) -> set[str]:
        return {c.code for c in self.codes}

    @property
    def noc_codes(self) -> list[str]:
        return [c.code for c in self.codes if c.is_noc]


# file pattern (relative to policies/) -> (model, required?)
REFERENCE_FILES = {
    "reference/codes.yml": schema.CodesFile,
    "reference/modifiers.yml": schema.ModifiersFile,
    "reference/denial_codes.yml": schema.DenialCodesFile,
    "reference/claim_fields.yml": schema.ClaimFieldsFile,
    "reference/synonyms.yml": schema.SynonymsFile,
}

# pydantic reports model-level errors at the object; point at the key the message is about.
_MESSAGE_KEYS = {
    "its status must be": "status",
    "needs_review": "status",
    "effective_to": "effective_to",
    "a percent needs": "percent",
    "doc_date": "doc_date",
    "is in the future": "retrieved",
}


def display_path(path: Path) -> str:
    try:
        path = Path(path)
        cwd = os.getcwd()
        if path.name in ("", ".", "..") or path.is_symlink():
            resolved = path.resolve()
        else:  # a plain file resolves to its resolved folder and its name (one folder, many files)
            resolved = _resolved(cwd, str(path.parent)) / path.name
        return str(resolved.relative_to(_resolved(cwd, cwd)))
    except (ValueError, RuntimeError, OSError):  # outside the cwd, or a symlink loop
        return str(path)


@functools.lru_cache(maxsize=256)
def _resolved(cwd: str, folder: str) -> Path:
    """`folder` (relative to `cwd`) with its symlinks resolved."""
    return (Path(cwd) / folder).resolve()


def _validate_model(model: type[BaseModel], raw: Any, path: str, problems: list[Problem]):
    if not isinstance(raw, dict):
        problems.append(Problem(path, getattr(raw, "line", 1) or 1, "the file must hold a YAML mapping"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            for needle, key in _MESSAGE_KEYS.items():
                if needle in err["msg"]:
                    node = raw
                    for part in loc:
                        try:
                            node = node[part]
                        except (KeyError, IndexError, TypeError):
                            node = None
                            break
                    if isinstance(node, LineDict) and key in node:
                        loc = loc + (key,)
                    break
            problems.append(Problem(path, line_of(raw, loc), describe(err)))
        return None


def _read(path: Path, model: type[BaseModel], problems: list[Problem]) -> Located | None:
    shown = display_path(path)
    try:
        raw = load_yaml(path)
    except PolicyYAMLError as exc:
        problems.append(Problem(shown, exc.line, exc.message))
        return None
    if raw is None:
        problems.append(Problem(shown, 1, "the file is empty"))
        return None
    parsed = _validate_model(model, raw, shown, problems)
    return Located(parsed, shown, file=path, lines=compact_lines(raw)) if parsed is not None else None


# Files of one folder are read and validated in worker processes when there are this many (the
# start of the workers costs about what reading 200 files does; the shipped tree reads in-process).
PARALLEL_FROM = 1000
MAX_WORKERS = 4


def _read_one(job: tuple[Path, type[BaseModel]]) -> tuple[Located | None, list[Problem]]:
    problems: list[Problem] = []
    return _read(job[0], job[1], problems), problems


def _workers(n_files: int) -> int:
    if n_files < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS)


def _read_many(paths: list[Path], model: type[BaseModel], problems: list[Problem]):
    """(path, Located or None) for each path in order, problems added as _read() adds them."""
    workers = _workers(len(paths))
    if workers < 2:
        for path in paths:
            yield path, _read(path, model, problems)
        return
    # fork is quick and safe while this process runs one thread; otherwise start fresh interpreters
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        chunk = max(1, min(200, len(paths) // (workers * 8)))
        for path, (located, found) in zip(paths, pool.map(_read_one, [(p, model) for p in paths], chunksize=chunk)):
            problems.extend(found)
            yield path, located


def _register_sources(kb: Policies, located: Located, problems: list[Problem]) -> None:
    for i, src in enumerate(located.model.sources):
        if src.id in kb.sources:
            first = kb.sources[src.id][1]
            problems.append(
                Problem(located.path, located.line("sources", i, "id"), f"duplicate source id {src.id!r} (also in {first})")
            )
        else:
            kb.sources[src.id] = (src, located.path)


def load_policies(root: Path | str = "policies") -> tuple[Policies, list[Problem]]:
    root = Path(root)
    kb = Policies(root=root)
    problems: list[Problem] = []
    if not root.is_dir():
        return kb, [Problem(display_path(root), 1, "policies folder not found")]

    ref_located: dict[str, Located] = {}
    for rel, model in REFERENCE_FILES.items():
        path = root / rel
        if not path.exists():
            problems.append(Problem(display_path(path), 1, "reference file is missing"))
            continue
        loc = _read(path, model, problems)
        if loc:
            ref_located[rel] = loc
            if hasattr(loc.model, "sources"):
                _register_sources(kb, loc, problems)
    if (root / "sources.yml").exists():
        loc = _read(root / "sources.yml", schema.SourcesFile, problems)
        if loc:
            _register_sources(kb, loc, problems)

    for path in sorted((root / "groups").glob("*.yml")):
        loc = _read(path, schema.RuleGroup, problems)
        if loc:
            if loc.model.id != path.stem:
                problems.append(Problem(loc.path, loc.line("id"), f"group id {loc.model.id!r} must match the file name {path.stem!r}"))
            kb.groups[loc.model.id] = loc
            _register_sources(kb, loc, problems)

    seen_payers: dict[str, str] = {}
    for path, loc in _read_many(sorted((root / "payers").glob("*.yml")), schema.Payer, problems):
        if not loc:
            continue
        if loc.model.id != path.stem:
            problems.append(Problem(loc.path, loc.line("id"), f"payer id {loc.model.id!r} must match the file name {path.stem!r}"))
        if loc.model.id in seen_payers:
            problems.append(Problem(loc.path, loc.line("id"), f"duplicate payer id {loc.model.id!r} (also in {seen_payers[loc.model.id]})"))
            continue
        seen_payers[loc.model.id] = loc.path
        kb.payers.append(loc)
        _register_sources(kb, loc, problems)

    scraped_dir = root / "scraped"
    for path in sorted(scraped_dir.glob("*.yml")) if scraped_dir.is_dir() else []:
        loc = _read(path, schema.ScrapedFile, problems)
        if loc:
            kb.scraped.append(loc)
            _register_sources(kb, loc, problems)

    _load_drugs(kb, root, problems)

    if "reference/codes.yml" in ref_located:
        kb.codes = ref_located["reference/codes.yml"].model.codes
    if "reference/modifiers.yml" in ref_located:
        kb.modifiers = ref_located["reference/modifiers.yml"].model.modifiers
    if "reference/denial_codes.yml" in ref_located:
        kb.denial_codes = ref_located["reference/denial_codes.yml"].model.denial_codes
    if "reference/claim_fields.yml" in ref_located:
        kb.claim_fields = ref_located["reference/claim_fields.yml"].model.claim_fields
    if "reference/synonyms.yml" in ref_located:
        kb.synonyms = ref_located["reference/synonyms.yml"].model.synonyms

    problems.extend(_cross_check(kb, ref_located, seen_payers))
    problems.extend(_check_drug_rules(kb, seen_payers))
    return kb, sorted(set(problems))


def _load_drugs(kb: Policies, root: Path, problems: list[Problem]) -> None:
    """policies/drugs/<drug>.yml and policies/drug-rules/<payer>.yml."""
    for path in sorted((root / "drugs").glob("*.yml")):
        loc = _read(path, schema.DrugFile, problems)
        if not loc:
            continue
        if loc.model.id != path.stem:
            problems.append(Problem(loc.path, loc.line("id"), f"drug id {loc.model.id!r} must match the file name {path.stem!r}"))
        kb.drugs[loc.model.id] = loc
        _register_sources(kb, loc, problems)
    for path in sorted((root / "drug-rules").glob("*.yml")):
        loc = _read(path, schema.DrugRulesFile, problems)
        if not loc:
            continue
        if loc.model.payer_id != path.stem:
            problems.append(
                Problem(loc.path, loc.line("payer_id"), f"payer_id {loc.model.payer_id!r} must match the file name {path.stem!r}")
            )
        kb.drug_rules.append(loc)
        _register_sources(kb, loc, problems)
    for path in sorted((root / "scraped" / "drug-rules").glob("*.yml")):
        loc = _read(path, schema.ScrapedDrugFile, problems)
        if loc:
            kb.scraped_drug_rules.append(loc)
            _register_sources(kb, loc, problems)


def _unknown(kind: str, value: str, known) -> str:
    guess = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"unknown {kind} {value!r}{hint}"


def _check_drug_rules(kb: Policies, payer_ids: dict) -> list[Problem]:
    out: list[Problem] = []
    codes = kb.code_ids
    for drug in kb.drugs.values():
        for j, ref in enumerate(drug.model.source_refs):
            if ref.ref not in kb.sources:
                out.append(Problem(drug.path, drug.line("source_refs", j, "ref"), _unknown("source", ref.ref, kb.sources)))
    for located in kb.drug_rules:
        model = located.model
        if model.payer_id not in payer_ids:
            out.append(Problem(located.path, located.line("payer_id"), _unknown("payer", model.payer_id, payer_ids)))
        seen_ids: set[str] = set()
        seen_scope: dict[tuple, str] = {}
        for i, rule in enumerate(model.drug_rules):
            at = lambda *loc: located.line("drug_rules", i, *loc)  # noqa: E731
            if rule.id in seen_ids:
                out.append(Problem(located.path, at("id"), f"duplicate drug rule id {rule.id!r}"))
            seen_ids.add(rule.id)
            if rule.drug not in kb.drugs:
                out.append(Problem(located.path, at("drug"), _unknown("drug", rule.drug, kb.drugs) + " (add policies/drugs/<id>.yml)"))
            for j, code in enumerate(rule.codes):
                if codes and code not in codes:
                    out.append(Problem(located.path, at("codes", j), f"unknown code {code!r}: drug rules name NOC codes from policies/reference/codes.yml"))
            for j, ref in enumerate(rule.sources):
                if ref.ref not in kb.sources:
                    out.append(Problem(located.path, at("sources", j, "ref"), _unknown("source", ref.ref, kb.sources)))
            scope = (rule.drug, rule.topic, rule.setting, rule.effective_from)
            if scope in seen_scope and rule.status != "conflicting":
                out.append(
                    Problem(
                        located.path,
                        at("id"),
                        f"drug rule {rule.id!r} repeats {seen_scope[scope]!r} (same drug, topic, setting and start date); "
                        "merge them, or mark both 'conflicting' when their sources disagree",
                    )
                )
            seen_scope.setdefault(scope, rule.id)
    return out


def _check_rule_refs(kb: Policies, located: Located, base: tuple, rule: schema.Rule, vocab: dict) -> list[Problem]:
    out = []
    at = lambda *loc: located.line(*base, *loc)  # noqa: E731
    for j, ref in enumerate(rule.sources):
        if ref.ref not in kb.sources:
            guess = difflib.get_close_matches(ref.ref, list(kb.sources), n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            out.append(Problem(located.path, at("sources", j, "ref"), f"unknown source {ref.ref!r}{hint}"))
    if rule.codes != "all":
        for j, code in enumerate(rule.codes):
            if vocab["codes"] and code not in vocab["codes"]:
                out.append(Problem(located.path, at("codes", j), f"unknown code {code!r}: add it to policies/reference/codes.yml first"))
    for key, vocab_key, what in (
        ("modifiers", "modifiers", "modifier"),
        ("denial_codes", "denial_codes", "denial code"),
        ("claim_fields", "claim_fields", "claim field"),
    ):
        for j, value in enumerate(getattr(rule, key) or []):
            if vocab[vocab_key] and value not in vocab[vocab_key]:
                guess = difflib.get_close_matches(value, sorted(vocab[vocab_key]), n=1)
                hint = f"; did you mean {guess[0]!r}?" if guess else ""
                out.append(Problem(located.path, at(key, j), f"unknown {what} {value!r}{hint}"))
    return out


def _cross_check(kb: Policies, ref_located: dict, payer_ids: dict) -> list[Problem]:
    out: list[Problem] = []
    vocab = {
        "codes": kb.code_ids,
        "modifiers": {m.code for m in kb.modifiers},
        "denial_codes": {d.code for d in kb.denial_codes},
        "claim_fields": {c.id for c in kb.claim_fields},
    }
    for rel, key, id_attr in (
        ("reference/codes.yml", "codes", "code"),
        ("reference/modifiers.yml", "modifiers", "code"),
        ("reference/denial_codes.yml", "denial_codes", "code"),
        ("reference/claim_fields.yml", "claim_fields", "id"),
    ):
        loc = ref_located.get(rel)
        if not loc:
            continue
        seen: set[str] = set()
        for i, item in enumerate(getattr(loc.model, key)):
            ident = getattr(item, id_attr)
            if ident in seen:
                out.append(Problem(loc.path, loc.line(key, i, id_attr), f"duplicate {id_attr} {ident!r}"))
            seen.add(ident)
            for j, ref in enumerate(getattr(item, "sources", [])):
                if ref.ref not in kb.sources:
                    out.append(Problem(loc.path, loc.line(key, i, "sources", j, "ref"), f"unknown source {ref.ref!r}"))

    for group in kb.groups.values():
        seen_ids: set[str] = set()
        for i, rule in enumerate(group.model.rules):
            if rule.id in seen_ids:
                out.append(Problem(group.path, group.line("rules", i, "id"), f"duplicate rule id {rule.id!r}"))
            seen_ids.add(rule.id)
            out.extend(_check_rule_refs(kb, group, ("rules", i), rule, vocab))

    for payer in kb.payers:
        seen_ids = set()
        for i, name in enumerate(payer.model.includes):
            if name not in kb.groups:
                guess = difflib.get_close_matches(name, list(kb.groups), n=1)
                hint = f"; did you mean {guess[0]!r}?" if guess else ""
                out.append(Problem(payer.path, payer.line("includes", i), f"unknown rule group {name!r}{hint}"))
        for i, rule in enumerate(payer.model.rules):
            if rule.id in seen_ids:
                out.append(Problem(payer.path, payer.line("rules", i, "id"), f"duplicate rule id {rule.id!r}"))
            seen_ids.add(rule.id)
            out.extend(_check_rule_refs(kb, payer, ("rules", i), rule, vocab))
        out.extend(_check_scopes(kb, payer))

    for scraped in kb.scraped:
        for i, rule in enumerate(scraped.model.rules):
            if rule.payer_id not in payer_ids:
                out.append(Problem(scraped.path, scraped.line("rules", i, "payer_id"), f"unknown payer {rule.payer_id!r}"))
            out.extend(_check_rule_refs(kb, scraped, ("rules", i), rule, vocab))
    return out


def effective_rules(kb: Policies, payer: Located) -> list[tuple[schema.Rule, Located, tuple, str | None]]:
    """A payer's rules after its groups are applied: (rule, file, location, group id or None).

    A payer's own rule with the same id as a group rule replaces it for that payer.
    """
    own = {r.id for r in payer.model.rules}
    result = []
    for name in payer.model.includes:
        group = kb.groups.get(name)
        if not group:
            continue
        for i, rule in enumerate(group.model.rules):
            if rule.id not in own and rule.id not in {r.id for r, *_ in result}:
                result.append((rule, group, ("rules", i), name))
    for i, rule in enumerate(payer.model.rules):
        result.append((rule, payer, ("rules", i), None))
    return result


def _scope(rule: schema.Rule, all_codes: list[str]) -> tuple:
    codes = tuple(sorted(all_codes if rule.codes == "all" else rule.codes))
    return (rule.topic, rule.setting, codes)


def _check_scopes(kb: Policies, payer: Located) -> list[Problem]:
    """Two live rules for the same payer, topic, setting and codes must be marked conflicting."""
    out = []
    seen: dict[tuple, list] = {}
    for rule, located, loc, _ in effective_rules(kb, payer):
        if rule.status in ("superseded",):
            continue
        seen.setdefault(_scope(rule, kb.noc_codes), []).append((rule, located, loc))
    for scope, entries in seen.items():
        if len(entries) < 2:
            continue
        for rule, located, loc in entries:
            if rule.status == "conflicting":
                continue
            others = [r.id for r, *_ in entries if r is not rule]
            if not _overlaps(rule, [r for r, *_ in entries if r is not rule]):
                continue
            out.append(
                Problem(
                    located.path,
                    located.line(*loc, "status"),
                    f"payer {payer.model.id!r}: rule {rule.id!r} has the same topic, setting and codes as "
                    f"{', '.join(map(repr, others))}; mark both 'conflicting' or separate them by effective dates",
                )
            )
    return out


def _overlaps(rule: schema.Rule, others: list[schema.Rule]) -> bool:
    lo, hi = rule.effective_from or "0000", rule.effective_to or "9999"
    for other in others:
        olo, ohi = other.effective_from or "0000", other.effective_to or "9999"
        if lo <= ohi and olo <= hi:
            return True
    return False
