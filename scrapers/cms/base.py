"""A kind of CMS file: how to recognise it, how to parse it, and the columns it yields."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from scrapers.cms.common import (
    CMSFileError,
    Column,
    Parsed,
    Table,
    data_rows,
    find_header,
    header_problem,
    keep_code,
    preamble_lines,
    resolve_period,
)

ASP_PAGE = "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"
OPPS_PAGE = (
    "https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient-pps/"
    "addendum-addendum-b-updates"
)
HCPCS_PAGE = "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system"

QUARTER_PERIOD = ("quarter", "effective_from", "effective_to")
RELEASE_PERIOD = ("release",)


@dataclass(frozen=True)
class Kind:
    name: str  # what --kind takes
    table: str  # the database table its rows go to
    label: str  # what people call the file
    source_url: str  # the CMS page that publishes it
    period: tuple[str, ...]  # period columns the build adds to every row
    fields: dict[str, type]  # the normalised CSV's columns, in order, with their types
    match: Callable[[Table], Any]  # something truthy when the table is this kind
    parse: Callable[[Table, Any, str | None], Parsed]
    missing: Callable[[], str]  # the message when a table forced to this kind does not match
    prefer: tuple[str, ...] = ("csv", "txt", "xlsx", "xls")  # formats, best first, within a ZIP

    @property
    def annual(self) -> bool:
        return self.period == RELEASE_PERIOD


def tabular_kind(
    *,
    name: str,
    table: str,
    label: str,
    source_url: str,
    columns: list[Column],
    fields: dict[str, type],
    code_column: str | None = "hcpcs",
    period: tuple[str, ...] = QUARTER_PERIOD,
    finish: Callable[[dict], dict] | None = None,
    refuse: Callable[[Table, list[str]], str | None] | None = None,
    prefer: tuple[str, ...] = ("csv", "txt", "xlsx", "xls"),
) -> Kind:
    """A kind whose file is a grid with a header row somewhere near the top."""

    def match(t: Table):
        return find_header(t.rows, columns)

    def parse(t: Table, found, quarter: str | None) -> Parsed:
        header_at, colmap = found
        preamble = preamble_lines(t, header_at)
        if refuse:
            why = refuse(t, preamble)
            if why:
                raise CMSFileError(t.name, why)
        when = resolve_period(t, preamble, quarter, annual_ok=period == RELEASE_PERIOD)
        rows, dropped, seen = [], {}, 0
        key = code_column or columns[0].name
        for _, row in data_rows(t, header_at, colmap, columns):
            if not row.get(key):
                continue  # footnotes below the table
            seen += 1
            if code_column and not keep_code(row[code_column], dropped):
                continue
            if finish:
                row = finish(row)
            rows.append({f: row.get(f) for f in fields})
        if not seen:
            raise CMSFileError(t.name, "no data rows below the header row")
        if not rows:
            what = ", ".join(f"{n} {k}" for k, n in sorted(dropped.items()))
            raise CMSFileError(t.name, f"no HCPCS Level II rows (dropped {what})")
        return Parsed(name, t.name, t.member, t.sha256, t.fmt, when.quarter, when.effective_from,
                      when.effective_to, when.found_in, rows, dropped)

    def missing() -> str:
        return header_problem(columns)

    return Kind(name, table, label, source_url, period, fields, match, parse, missing, prefer)


def code(value: str) -> str | None:
    """A code cell, upper case, without stray bytes (Addendum B has 'A4341' followed by 0xFF)."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", str(value)).upper()
    return cleaned or None
