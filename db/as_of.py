"""The one rule for a fact's "as of" date (rules.as_of, drug_rules.as_of).

As of is the newest date the fact's own sources show. When none of its sources shows a date, the
fact has no "as of": the date we read the sources is kept instead, and `undated` says so, so pages
print "undated, read <date>" and never pass a reading date off as the source's own.
A source whose date is more than STALE_AFTER_YEARS old is stale (`stale_before`).
"""
from __future__ import annotations

import datetime as dt

STALE_AFTER_YEARS = 3


def as_of(cited, given: str | None = None) -> tuple[str | None, bool]:
    """(date, undated) for the cited Source models; `given` is a date the policy file states."""
    if given:
        return given, False
    dated = [s.doc_date for s in cited if s.doc_date]
    if dated:
        return max(dated), False
    read = max((s.retrieved for s in cited), default=None)
    return read, read is not None


def stale_before(today: dt.date | None = None) -> str:
    """Source dates before this ISO date are more than STALE_AFTER_YEARS old."""
    today = today or dt.date.today()
    try:
        return today.replace(year=today.year - STALE_AFTER_YEARS).isoformat()
    except ValueError:  # 29 February
        return today.replace(year=today.year - STALE_AFTER_YEARS, day=28).isoformat()
