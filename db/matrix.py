"""How one payer × topic cell of the matrix is decided: written once, as SQL, and used by the
payer_matrix view (db/build.py), the /-/matrix page with its JSON and CSV, the code pages and the
payer pages' at-a-glance table (payerkb/queries.py), so they always agree.

A cell is, over the payer's live rules for the topic (not gaps, not scraped, not superseded):
'conflicting' when any is, else their one requirement, else 'varies'. With no such rule it is
'unknown' (a gap) — except prior authorization of a payer that lists drugs needing it on NOC codes
(live prior_auth rows in drug_rules): then 'drug_list', shown as "by drug list: N drugs".

Its footing is how firm the rules behind it are, the weakest of them: 'official' (an official
source), 'secondary only' (only secondary sources) or 'unconfirmed' (unconfirmed or needing review,
or no source at all); NULL for an 'unknown' cell, which no rule backs. The same words as the
claim-context answer's footing (payerkb/answer.py).

The page narrows the cells to a claim context: a code (only rules and drug rules naming it), a
setting (rules for that setting or 'any') and a date of service (rules in effect on it; a
superseded rule with an end date counts for the dates it was in force). With none of them the SQL
is the view's, word for word.
"""
from __future__ import annotations

LIVE_RULE = "r.origin not in ('scraped', 'gap') and r.status != 'superseded'"
CELL_CASE = ("case when sum(r.status = 'conflicting') > 0 then 'conflicting' "
             "when count(distinct r.requirement) = 1 then max(r.requirement) else 'varies' end")
LIVE_DRUG_PA = "d.topic = 'prior_auth' and d.status != 'superseded' and d.requirement in ('required', 'conditional')"
DRUG_LIST = "drug_list"
FOOTINGS = ("official", "secondary only", "unconfirmed")


def _rank(alias: str) -> str:
    """A rule's (or drug rule's) footing as its index in FOOTINGS."""
    return (f"case when {alias}.status in ('unconfirmed', 'needs_review') or coalesce({alias}.source_count, 0) = 0 "
            f"then 2 when {alias}.has_official_source then 0 else 1 end")


def _word(rank_sql: str) -> str:
    return f"case {rank_sql} " + " ".join(f"when {i} then '{w}'" for i, w in enumerate(FOOTINGS)) + " end"


def _rules_where(topic: str, payer: str, code: str | None, setting: str | None, date: str | None) -> str:
    live = LIVE_RULE
    if date:  # a superseded rule was the rule up to its end date
        live = ("r.origin not in ('scraped', 'gap') and (r.status != 'superseded' or r.effective_to is not null)"
                f" and (r.effective_from is null or r.effective_from <= {date})"
                f" and (r.effective_to is null or {date} <= r.effective_to)")
    where = f"r.payer_id = {payer} and r.topic = '{topic}' and {live}"
    if code:
        where += f" and exists (select 1 from rule_codes rc where rc.rule_id = r.id and rc.code = {code})"
    if setting:
        where += f" and r.setting in ({setting}, 'any')"
    return where


def _drugs_where(payer: str, code: str | None, setting: str | None, date: str | None) -> str:
    where = f"d.payer_id = {payer} and {LIVE_DRUG_PA}"
    if code:
        where += f" and exists (select 1 from drug_rule_codes dc where dc.drug_rule_id = d.id and dc.code = {code})"
    if setting:
        where += f" and d.setting in ({setting}, 'any')"
    if date:
        where += (f" and (d.effective_from is null or d.effective_from <= {date})"
                  f" and (d.effective_to is null or {date} <= d.effective_to)")
    return where


def cell_sql(topic: str, payer: str = "p.id", code: str | None = None, setting: str | None = None,
             date: str | None = None) -> str:
    """The cell word for a payer (SQL expression `payer`) and topic, as one SQL expression; code,
    setting and date (SQL expressions, e.g. ':code') narrow it to a claim context."""
    verdict = f"(select {CELL_CASE} from rules r where {_rules_where(topic, payer, code, setting, date)} having count(*) > 0)"
    if topic != "prior_auth":
        return f"coalesce({verdict}, 'unknown')"
    drugs = drug_list_sql(payer, code, setting, date)
    return f"coalesce({verdict}, case when {drugs} > 0 then '{DRUG_LIST}' else 'unknown' end)"


def footing_sql(topic: str, payer: str = "p.id", code: str | None = None, setting: str | None = None,
                date: str | None = None) -> str:
    """The footing of the same cell: the weakest footing of the rules that decided it (of the drug
    rules for a 'drug_list' cell), NULL for 'unknown'."""
    rules = f"(select max({_rank('r')}) from rules r where {_rules_where(topic, payer, code, setting, date)})"
    if topic == "prior_auth":
        drugs = f"(select max({_rank('d')}) from drug_rules d where {_drugs_where(payer, code, setting, date)})"
        rules = f"coalesce({rules}, {drugs})"
    return _word(rules)


def drug_list_sql(payer: str = "p.id", code: str | None = None, setting: str | None = None,
                  date: str | None = None) -> str:
    """Number of distinct drugs on the payer's prior-authorization drug list, as SQL."""
    return f"(select count(distinct d.drug_id) from drug_rules d where {_drugs_where(payer, code, setting, date)})"


PAYER_COLUMNS = ("payer_id", "payer_name", "payer_type", "states", "jurisdiction")


def columns(topics) -> list[str]:
    """The columns of the view (and of /-/matrix.csv), in order."""
    return [*PAYER_COLUMNS, *topics, "prior_auth_drugs", *(f"{t}_footing" for t in topics)]


def select_sql(topics, payers: str = "payers", code: str | None = None, setting: str | None = None,
               date: str | None = None) -> str:
    """One row per payer of `payers` (a table or a parenthesised sub-select, aliased p) with every
    topic's cell and footing: the payer_matrix view with the defaults."""
    cells = ",\n  ".join(f"{cell_sql(t, code=code, setting=setting, date=date)} as {t}" for t in topics)
    footings = ",\n  ".join(f"{footing_sql(t, code=code, setting=setting, date=date)} as {t}_footing" for t in topics)
    return f"""
select p.id as payer_id, p.name as payer_name, p.payer_type, p.states, p.jurisdiction,
  {cells},
  {drug_list_sql(code=code, setting=setting, date=date)} as prior_auth_drugs,
  {footings}
from {payers} p order by p.payer_type, p.name"""


def cell(requirement: str | None, topic: str, drug_list_drugs: int) -> str:
    """The cell word from the payer-level rules' verdict (None: no live rule) and the number of
    drugs on the payer's prior-authorization drug list (for callers holding rules in Python)."""
    if requirement:
        return requirement
    if topic == "prior_auth" and drug_list_drugs:
        return DRUG_LIST
    return "unknown"
