"""The rule to cite where a payer has none of its own on a topic that often gets lines denied.

`reference(kb, conn, payer, topic, code, setting, dos)` answers with the national payer's rule
(the payer of type medicare_national in policies/payers/) that applies to the line, or, when there
is none, the requirement most payers of the same type have (counted over their sourced rules that
apply to the line), with up to three of those rules as examples. Only sourced rules count: a rule
whose sources disagree, that no source backs, or that nobody reviewed is never cited. None when
there is nothing to cite. Answers are remembered per knowledge base.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from formats.vocabulary import REQUIREMENTS
from payerkb.check_kb import Knowledge, Rule, load_rules

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


def asks(rule: Rule) -> tuple:
    """What a rule asks, for counting payers that ask the same: the requirement, and for units
    the unit rule."""
    return (rule.requirement, rule.unit_rule or "") if rule.topic == "units" else (rule.requirement,)


def _rank(rule: Rule) -> tuple:
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
    national = sorted(pid for pid, p in kb.payers.items() if p["payer_type"] == NATIONAL_TYPE and pid != payer["id"])
    for pid in national:
        here = sorted((r for r in kb.rules_for(pid, conn) if _fits(r, topic, code, setting, dos)), key=_rank)
        if here:
            return Reference("national", here[0], asks(here[0]), [here[0]])
    return None


def _most_common(kb, conn, payer, topic, code, setting, dos) -> Reference | None:
    rules = [r for r in _type_rules(kb, conn, payer["payer_type"], topic) if r.payer_id != payer["id"]
             and _fits(r, topic, code, setting, dos)]
    if not rules:
        return None
    by_payer: dict[str, set] = {}
    for rule in rules:
        by_payer.setdefault(rule.payer_id, set()).add(asks(rule))
    counts = Counter(a for held in by_payer.values() for a in held)
    best = min(counts, key=lambda a: (-counts[a], REQUIREMENT_ORDER.index(a[0]) if a[0] in REQUIREMENT_ORDER else 9, a))
    examples, seen = [], set()
    for rule in sorted((r for r in rules if asks(r) == best), key=lambda r: (not r.sources, r.payer_id, _rank(r))):
        if rule.payer_id not in seen:
            seen.add(rule.payer_id)
            examples.append(rule)
    examples = examples[:EXAMPLES]
    return Reference("most_common", examples[0], best, examples, payers=counts[best], of=len(by_payer))


def _type_rules(kb: Knowledge, conn, payer_type: str, topic: str) -> list[Rule]:
    """The sourced rules on a topic of every payer of a type (one query, remembered)."""
    key = (payer_type, topic)
    if key not in kb.type_rules:
        kb.type_rules[key] = load_rules(
            conn, "topic = ? and status = 'sourced' and origin != 'gap' "
                  "and payer_id in (select id from payers where payer_type = ?)", [topic, payer_type])
    return kb.type_rules[key]
