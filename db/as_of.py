"""The one rule for a fact's "as of" date (rules.as_of, drug_rules.as_of).

As of is the newest date the fact's own sources show. When none of its sources shows a date, the
fact has no "as of": the date we read the sources is kept instead, and `undated` says so, so pages
print "undated, read <date>" and never pass a reading date off as the source's own.
"""
from __future__ import annotations


def as_of(cited, given: str | None = None) -> tuple[str | None, bool]:
    """(date, undated) for the cited Source models; `given` is a date the policy file states."""
    if given:
        return given, False
    dated = [s.doc_date for s in cited if s.doc_date]
    if dated:
        return max(dated), False
    read = max((s.retrieved for s in cited), default=None)
    return read, read is not None
