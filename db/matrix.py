"""How one payer × topic cell of the matrix is decided: written once, used by the payer_matrix view
(db/build.py) and the /-/matrix page and code pages (payerkb/queries.py), so they always agree.

A cell is, over the payer's live rules for the topic (not gaps, not scraped, not superseded):
'conflicting' when any is, else their one requirement, else 'varies'. With no such rule it is
'unknown' (a gap) — except prior authorization of a payer that lists drugs needing it on NOC codes
(live prior_auth rows in drug_rules): then 'drug_list', shown as "by drug list: N drugs".
"""
from __future__ import annotations

LIVE_RULE = "r.origin not in ('scraped', 'gap') and r.status != 'superseded'"
CELL_CASE = ("case when sum(r.status = 'conflicting') > 0 then 'conflicting' "
             "when count(distinct r.requirement) = 1 then max(r.requirement) else 'varies' end")
LIVE_DRUG_PA = "d.topic = 'prior_auth' and d.status != 'superseded' and d.requirement in ('required', 'conditional')"
DRUG_LIST = "drug_list"


def cell(requirement: str | None, topic: str, drug_list_drugs: int) -> str:
    """The cell word from the payer-level rules' verdict (None: no live rule) and the number of
    drugs on the payer's prior-authorization drug list."""
    if requirement:
        return requirement
    if topic == "prior_auth" and drug_list_drugs:
        return DRUG_LIST
    return "unknown"


def cell_sql(topic: str, payer: str = "p.id", code: str | None = None) -> str:
    """The same decision as `cell` as one SQL expression for a payer (column `payer`) and topic;
    with code (an SQL expression), only rules and drug rules covering that code count."""
    on_code = f" and exists (select 1 from rule_codes rc where rc.rule_id = r.id and rc.code = {code})" if code else ""
    d_code = f" and exists (select 1 from drug_rule_codes dc where dc.drug_rule_id = d.id and dc.code = {code})" if code else ""
    verdict = (f"(select {CELL_CASE} from rules r where r.payer_id = {payer} and r.topic = '{topic}' "
               f"and {LIVE_RULE}{on_code} having count(*) > 0)")
    if topic != "prior_auth":
        return f"coalesce({verdict}, 'unknown')"
    drugs = drug_list_sql(payer, d_code)
    return f"coalesce({verdict}, case when {drugs} > 0 then '{DRUG_LIST}' else 'unknown' end)"


def drug_list_sql(payer: str = "p.id", extra: str = "") -> str:
    """Number of distinct drugs on the payer's prior-authorization drug list, as SQL."""
    return f"(select count(distinct d.drug_id) from drug_rules d where d.payer_id = {payer} and {LIVE_DRUG_PA}{extra})"
