"""A kind of CMS file: how to recognise it, how to parse it, and the columns it yields."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from formats.cms import CsvFormat
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

@dataclass(frozen=True)
class Kind:
    """A CMS file's format (formats/cms.py: table, CSV columns, period) and how to read one."""

    format: CsvFormat
    match: Callable[[Table], Any]  # something truthy when the table is this kind
    parse: Callable[[Table, Any, str | None], Parsed]
    missing: Callable[[], str]  # the message when a table forced to this kind does not match
    prefer: tuple[str, ...] = ("csv", "txt", "xlsx", "xls")  # formats, best first, within a ZIP

    name = property(lambda self: self.format.name)  # what --kind takes
    table = property(lambda self: self.format.table)
    label = property(lambda self: self.format.label)
    source_url = property(lambda self: self.format.source_url)
    period = property(lambda self: self.format.period)
    fields = property(lambda self: self.format.fields)
    annual = property(lambda self: self.format.annual)


def tabular_kind(
    fmt: CsvFormat,
    *,
    columns: list[Column],
    code_column: str | None = "hcpcs",
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
        when = resolve_period(t, preamble, quarter, annual_ok=fmt.annual)
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
            rows.append({f: row.get(f) for f in fmt.fields})
        if not seen:
            raise CMSFileError(t.name, "no data rows below the header row")
        if not rows:
            what = ", ".join(f"{n} {k}" for k, n in sorted(dropped.items()))
            raise CMSFileError(t.name, f"no HCPCS Level II rows (dropped {what})")
        return Parsed(fmt.name, t.name, t.member, t.sha256, t.fmt, when.quarter, when.effective_from,
                      when.effective_to, when.found_in, rows, dropped)

    def missing() -> str:
        return header_problem(columns)

    return Kind(fmt, match, parse, missing, prefer)


def code(value: str) -> str | None:
    """A code cell, upper case, without stray bytes (Addendum B has 'A4341' followed by 0xFF)."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", str(value)).upper()
    return cleaned or None
