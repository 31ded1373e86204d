"""The rule to cite where a payer has none of its own on a topic that often gets lines denied.

`reference(kb, conn, payer, topic, code, setting, dos)` answers with the national payer's rule
(the payer of type medicare_national in policies/payers/) that applies to the line, or, when there
is none, the requirement most payers of the same type have (counted over their sourced rules that
apply to the line), with up to three of those rules as examples. Only sourced rules count: a rule
whose sources disagree, that no source backs, or that nobody reviewed is never cited. None when
there is nothing to cite. Answers are remembered per knowledge base.
"""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field

from formats.vocabulary import REQUIREMENTS
from payerkb.check_kb import LIVE_RULES, Knowledge, Rule, load_rules

NATIONAL_TYPE = "medicare_national"
REQUIREMENT_ORDER = REQUIREMENTS  # formats/vocabulary.py: one list of requirements
EXAMPLES = 3


@dataclass(frozen=True)
class Reference:
    how: str  # "national" or "most_common"
    rule: Rule  # the national rule, or the first example of the most common requirement
    asks: tuple  # what the rule asks (see `asks`)
    examples: list[Rule] = field(default_factory=list)
    payers: int = 1  # payers of the type that have this requirement
    of: int = 1  # payers of the type with any sourced rule on the topic for such a line


def asks(rule) -> tuple:
    """What a rule asks, for counting payers that ask the same: the requirement, and for units
    the unit rule."""
    return (rule.requirement, rule.unit_rule or "") if rule.topic == "units" else (rule.requirement,)


def _rank(rule) -> tuple:
    # the rule that fits the line best: required before conditional, a setting's own before "any"
    return (REQUIREMENT_ORDER.index(rule.requirement) if rule.requirement in REQUIREMENT_ORDER else 9,
            rule.setting == "any", rule.id)


def _fits(rule: Rule, topic: str, code: str, setting: str, dos: str) -> bool:
    return rule.topic == topic and rule.origin != "gap" and rule.certain and rule.applies(code, setting, dos)


def reference(kb: Knowledge, conn, payer: dict, topic: str, code: str, setting: str, dos: str) -> Reference | None:
    key = (payer["payer_type"], payer["id"] if payer["payer_type"] == NATIONAL_TYPE else None, topic, code,
           setting, dos)
    memo = kb.references
    if key not in memo:
        if len(memo) >= 4096:
            memo.clear()
        memo[key] = _national(kb, conn, payer, topic, code, setting, dos) or _most_common(
            kb, conn, payer, topic, code, setting, dos)
    return memo[key]


def _national(kb, conn, payer, topic, code, setting, dos) -> Reference | None:
    if NATIONAL_TYPE not in kb.type_rules:  # the national payers' ids, once
        kb.type_rules[NATIONAL_TYPE] = sorted(pid for pid, p in kb.payers.items() if p["payer_type"] == NATIONAL_TYPE)
    for pid in kb.type_rules[NATIONAL_TYPE]:
        if pid == payer["id"]:
            continue
        here = sorted((r for r in kb.rules_for(pid, conn) if _fits(r, topic, code, setting, dos)), key=_rank)
        if here:
            return Reference("national", here[0], asks(here[0]), [here[0]])
    return None


def _most_common(kb, conn, payer, topic, code, setting, dos) -> Reference | None:
    # the payer's own rules never count: it has no sourced one for such a line, or it would not be asked
    group = _sourced(kb, conn, topic).get((payer["payer_type"], code))
    if group is None:
        return None
    # the rules in effect change only at their dates: lines between the same dates share the answer
    key = ("epoch", payer["payer_type"], topic, code, setting, bisect_right(group.starts, dos),
           bisect_left(group.ends, dos))
    if key not in kb.references:
        kb.references[key] = _count(kb, conn, group, setting, dos)
    return kb.references[key]


def _count(kb, conn, group: "_Group", setting: str, dos: str) -> Reference | None:
    """The requirement most payers of the group have for such a line, with up to three examples."""
    here, by_payer = [], {}
    for r in group.by_setting.get("any", []) + group.by_setting.get(setting, []):
        if (r.effective_from is None or r.effective_from <= dos) and (r.effective_to is None or dos <= r.effective_to):
            here.append(r)
            by_payer.setdefault(r.payer_id, set()).add(r.asks)
    if not here:
        return None
    counts = Counter(a for held in by_payer.values() for a in held)
    best = min(counts, key=lambda a: (-counts[a], REQUIREMENT_ORDER.index(a[0]) if a[0] in REQUIREMENT_ORDER else 9, a))
    first: dict[str, object] = {}  # payer -> its best rule asking that
    for rule in here:
        if rule.asks == best and (rule.payer_id not in first or _rank(rule) < _rank(first[rule.payer_id])):
            first[rule.payer_id] = rule
    examples = [r for r in (_full_rule(kb, conn, first[p].id) for p in sorted(first)[:EXAMPLES]) if r is not None]
    if not examples:
        return None
    return Reference("most_common", examples[0], best, examples, payers=counts[best], of=len(by_payer))


def _full_rule(kb, conn, rule_id: str) -> Rule | None:
    """One rule with its sources, loaded once (examples repeat from one line to the next)."""
    memo = kb.type_rules.setdefault("rules cited", {})
    if rule_id not in memo:
        found = load_rules(conn, "id = ?", [rule_id])
        memo[rule_id] = found[0] if found else None
    return memo[rule_id]


@dataclass(frozen=True)
class _Brief:
    """What counting needs of a rule (the whole rule is loaded only for the examples cited)."""
    id: str
    payer_id: str
    topic: str
    requirement: str
    unit_rule: str | None
    setting: str
    effective_from: str | None
    effective_to: str | None
    asks: tuple = ()  # see `asks`


@dataclass
class _Group:
    """The sourced rules on one topic of the payers of one type that cover one code."""
    rules: list = field(default_factory=list)
    by_setting: dict = field(default_factory=dict)  # setting ("any" too) -> its rules
    starts: list = field(default_factory=list)  # their effective_from dates, sorted
    ends: list = field(default_factory=list)  # their effective_to dates, sorted


def _sourced(kb: Knowledge, conn, topic: str) -> dict[tuple[str, str], _Group]:
    """(payer type, code) -> _Group: one query per topic, remembered."""
    if topic not in kb.type_rules:
        out: dict[tuple[str, str], _Group] = {}
        for rid, pid, kind, requirement, unit_rule, setting, start, end, codes in conn.execute(
                f"""select r.id, r.payer_id, p.payer_type, r.requirement, r.unit_rule, r.setting,
                           r.effective_from, r.effective_to, r.codes
                    from rules r join payers p on p.id = r.payer_id
                    where r.topic = ? and r.status = 'sourced' and r.origin != 'gap' and {LIVE_RULES}""", [topic]):
            brief = _Brief(rid, pid, topic, requirement, unit_rule, setting, start, end,
                           (requirement, unit_rule or "") if topic == "units" else (requirement,))
            for code in json.loads(codes or "[]"):
                out.setdefault((kind, code), _Group()).rules.append(brief)
        for group in out.values():
            for r in group.rules:
                group.by_setting.setdefault(r.setting, []).append(r)
            group.starts = sorted(r.effective_from for r in group.rules if r.effective_from)
            group.ends = sorted(r.effective_to for r in group.rules if r.effective_to)
        kb.type_rules[topic] = out
    return kb.type_rules[topic]
