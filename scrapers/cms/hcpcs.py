"""The HCPCS Level II alpha-numeric file: every code with its descriptors and Medicare data.

CMS ships it as a fixed-width TXT (320-character records; a long description continues on
records with RECID 4) and as an XLSX with one row per code. Modifier records (RECID 7/8) are
skipped: this table is codes only.
"""
from __future__ import annotations

from formats.cms import FORMATS
from scrapers.cms.base import Kind, code, tabular_kind
from scrapers.cms.common import (
    CMSFileError,
    Column,
    Parsed,
    Table,
    keep_code,
    resolve_period,
    text,
    yyyymmdd,
)

FORMAT = FORMATS["hcpcs"]  # table, CSV columns, period: formats/cms.py
FIELDS = FORMAT.fields

# 1-based inclusive positions from the CMS record layout (HCPCS2019_recordlayout.txt).
POSITIONS = {
    "hcpcs": (1, 5), "recid": (11, 11), "long_descriptor": (12, 91), "short_descriptor": (92, 119),
    "pricing_indicator": (120, 121), "multiple_pricing_indicator": (128, 128),
    "statute": (171, 180), "coverage_code": (230, 230), "asc_group": (231, 232),
    "processing_note": (253, 256), "betos": (257, 259), "add_date": (269, 276),
    "action_effective_date": (277, 284), "term_date": (285, 292), "action_code": (293, 293),
}
RECORD_LENGTH = 320
DATES = ("add_date", "action_effective_date", "term_date")


def _record(line: str) -> dict:
    return {k: line[a - 1:b] for k, (a, b) in POSITIONS.items()}


def _is_record(line: str) -> bool:
    return len(line) == RECORD_LENGTH and line[10] in "3478"


def _match_txt(t: Table):
    if t.text is None:
        return None
    lines = [line for line in t.text.splitlines() if line.strip()]
    records = [line for line in lines if _is_record(line)]
    return records if records and len(records) * 2 >= len(lines) else None


def _parse_txt(t: Table, records: list[str], quarter: str | None) -> Parsed:
    period = resolve_period(t, [], quarter, annual_ok=True)
    rows: list[dict] = []
    dropped: dict[str, int] = {}
    current: dict | None = None
    for n, line in enumerate(records, 1):
        rec = _record(line)
        if rec["recid"] == "3":
            hcpcs = rec["hcpcs"].strip()
            current = None
            if not keep_code(hcpcs, dropped):
                continue
            try:
                current = {k: (yyyymmdd(rec[k]) if k in DATES else text(rec[k])) for k in FIELDS}
            except ValueError as exc:
                raise CMSFileError(t.name, f"record {n} ({hcpcs}): {exc}") from None
            current["hcpcs"] = hcpcs
            rows.append(current)
        elif rec["recid"] == "4" and current is not None and rec["hcpcs"].strip() == current["hcpcs"]:
            more = text(rec["long_descriptor"])
            if more:
                current["long_descriptor"] = f"{current['long_descriptor'] or ''} {more}".strip()
    if not rows:
        raise CMSFileError(t.name, "no HCPCS Level II code records (RECID 3) in the file")
    return Parsed("hcpcs", t.name, t.member, t.sha256, t.fmt, period.quarter, period.effective_from,
                  period.effective_to, period.found_in, rows, dropped)


COLUMNS = [
    Column("hcpcs", r"hcpcs?", code),
    Column("seqnum", r"seqnum"),
    Column("recid", r"recid"),
    Column("long_descriptor", r"long description"),
    Column("short_descriptor", r"short description"),
    Column("pricing_indicator", r"price1", required=False),
    Column("multiple_pricing_indicator", r"mult_pi", required=False),
    Column("statute", r"statute", required=False),
    Column("coverage_code", r"cov", required=False),
    Column("asc_group", r"asc_grp", required=False),
    Column("processing_note", r"procnote", required=False),
    Column("betos", r"betos", required=False),
    Column("add_date", r"add[ _]dt", yyyymmdd, required=False),
    Column("action_effective_date", r"act[ _]eff[ _]dt", yyyymmdd, required=False),
    Column("term_date", r"term[ _]dt", yyyymmdd, required=False),
    Column("action_code", r"action[ _]cd", required=False),
]

_XLSX = tabular_kind(
    FORMAT, columns=COLUMNS,
)


def _match(t: Table):
    records = _match_txt(t)
    if records:
        return ("txt", records)
    found = _XLSX.match(t)
    return ("grid", found) if found else None


def _parse(t: Table, how, quarter: str | None) -> Parsed:
    style, found = how
    if style == "txt":
        return _parse_txt(t, found, quarter)
    header_at, colmap = found
    recid_col = colmap["recid"]  # keep code rows (RECID 3); modifiers (7) and oddities go
    rows = t.rows[: header_at + 1] + [
        r for r in t.rows[header_at + 1:] if len(r) > recid_col and str(r[recid_col]).strip() == "3"
    ]
    return _XLSX.parse(Table(t.name, t.member, t.sha256, t.fmt, rows, None), found, quarter)


def _missing() -> str:
    return (
        "header row not found: expected 320-character HCPCS records, or a header row with "
        "HCPC, SEQNUM, RECID, LONG DESCRIPTION in the first rows"
    )


KIND = Kind(
    FORMAT, match=_match, parse=_parse, missing=_missing,
    prefer=("xlsx", "txt", "csv", "xls"),
)
