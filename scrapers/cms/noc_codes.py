"""The CMS list of HCPCS NOC ("not otherwise classified") codes: code, long description, added
and terminated dates. Shipped as a fixed-width PRN (descriptions cut at 80 characters) and as an
XLSX (full descriptions)."""
from __future__ import annotations

import re

from formats.cms import FORMATS
from scrapers.cms.base import Kind, code, tabular_kind
from scrapers.cms.common import (
    CMSFileError, Column, Parsed, Table, keep_code, resolve_period, text, yyyymmdd,
)

FORMAT = FORMATS["noc-codes"]  # table, CSV columns, period: formats/cms.py

COLUMNS = [
    Column("hcpcs", r"hcpcs( code)?", code, label="hcpcs"),
    Column("long_descriptor", r"long description"),
    Column("add_date", r"add date|add dt", yyyymmdd),
    Column("term_date", r"term date|term dt", yyyymmdd, required=False),
]

_GRID = tabular_kind(
    FORMAT, columns=COLUMNS,
)

PRN_HEADER = re.compile(r"^\s*HCPCS\s+LONG DESCRIPTION\s+ADD DATE", re.IGNORECASE)


def _match(t: Table):
    if t.text is not None:
        lines = t.text.splitlines()
        for i, line in enumerate(lines[:60]):
            if PRN_HEADER.match(line):
                return ("prn", i)
    found = _GRID.match(t)
    return ("grid", found) if found else None


def _parse_prn(t: Table, at: int, quarter: str | None) -> Parsed:
    lines = t.text.splitlines()
    header = lines[at]
    starts = [header.index("HCPCS"), header.index("LONG DESCRIPTION"), header.index("ADD DATE")]
    term = header.find("TERM DATE")
    preamble = [line.strip() for line in lines[:at]]
    period = resolve_period(t, preamble, quarter, annual_ok=True)
    rows, dropped = [], {}
    for n, line in enumerate(lines[at + 1:], start=at + 2):
        hcpcs = line[starts[0]:starts[1]].strip().upper()
        if not hcpcs or not re.fullmatch(r"[A-Z0-9]{5}", hcpcs):
            continue  # blank lines and the end-of-file marker
        if not keep_code(hcpcs, dropped):
            continue
        try:
            rows.append({
                "hcpcs": hcpcs,
                "long_descriptor": text(line[starts[1]:starts[2]]),
                "add_date": yyyymmdd(line[starts[2]:term if term > 0 else None]),
                "term_date": yyyymmdd(line[term:]) if term > 0 else None,
            })
        except ValueError as exc:
            raise CMSFileError(t.name, f"line {n} ({hcpcs}): {exc}") from None
    if not rows:
        raise CMSFileError(t.name, "no data rows below the header row")
    return Parsed("noc-codes", t.name, t.member, t.sha256, t.fmt, period.quarter, period.effective_from,
                  period.effective_to, period.found_in, rows, dropped)


def _parse(t: Table, how, quarter: str | None) -> Parsed:
    style, found = how
    if style == "prn":
        return _parse_prn(t, found, quarter)
    return _GRID.parse(t, found, quarter)


KIND = Kind(
    FORMAT, match=_match, parse=_parse, missing=_GRID.missing,
    prefer=("xlsx", "txt", "csv", "xls"),
)
