"""What every CMS file parser shares: the error type, the parsed result, header finding by
content, periods (effective window / quarter), numbers, NDCs and the HCPCS Level II filter."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable

HEADER_SCAN_ROWS = 60


class CMSFileError(ValueError):
    """A file could not be read as a CMS file; the message names the file and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


@dataclass
class Table:
    """One readable grid: a CSV/TXT file, a ZIP member or a workbook sheet."""

    name: str  # shown in messages: file, file!member or file[sheet]
    member: str  # the original file (or member) name, for the manifest and period guessing
    sha256: str  # of the original bytes (the file, or the ZIP member)
    fmt: str  # csv, txt, xlsx, xls
    rows: list[list[str]]
    text: str | None = None  # decoded text, for the fixed-width layouts


@dataclass
class Parsed:
    kind: str
    source: str
    original_file: str
    original_sha256: str
    fmt: str
    quarter: str  # 2026Q1, or 2019 for an annual HCPCS release
    effective_from: str | None
    effective_to: str | None
    period_from: str  # preamble, title, file name or --quarter
    rows: list[dict]
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.rows)


# --- HCPCS Level II -------------------------------------------------------------------------

LEVEL_II = re.compile(r"[A-V][0-9]{4}")


def code_class(code: str) -> str:
    """'level2' for a HCPCS Level II code we keep; otherwise why it is dropped.

    CPT (Level I) codes start with a digit and their descriptors are the AMA's; D codes are the
    ADA's dental codes (CDT), also copyrighted and of no use for drug claims: neither is kept.
    """
    if LEVEL_II.fullmatch(code):
        return "dental" if code[0] == "D" else "level2"
    if code[:1].isdigit():
        return "cpt"
    return "other"


def keep_code(code: str, dropped: dict[str, int]) -> bool:
    cls = code_class(code)
    if cls != "level2":
        dropped[cls] = dropped.get(cls, 0) + 1
        return False
    return True


# --- cell values ----------------------------------------------------------------------------

EMPTY = {"", "n/a", "na", ".", "-", "--"}


def text(value: str) -> str | None:
    """Clean text: non-breaking spaces and runs of blanks become one space; lines join with '; '."""
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in str(value).splitlines()]
    joined = "; ".join(line for line in lines if line)
    return joined or None


def number(value: str) -> float | None:
    """'$1,662.630' -> 1662.63; '20.000' -> 20.0; '15.1%' -> 15.1; '', ' ', '.', 'N/A' -> None."""
    raw = str(value).replace("\xa0", " ").strip()
    if raw.lower() in EMPTY:
        return None
    cleaned = raw.replace("$", "").replace(",", "").replace("%", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


def yyyymmdd(value: str) -> str | None:
    """'19860101' -> '1986-01-01'; blank -> None."""
    raw = str(value).strip()
    if not raw or raw.strip("0") == "":
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return raw
    if not re.fullmatch(r"\d{8}", raw):
        raise ValueError(f"{raw!r} is not a date written YYYYMMDD")
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:])).isoformat()
    except ValueError:
        raise ValueError(f"{raw!r} is not a real calendar date") from None


def ndc_parts(raw: str) -> tuple[str | None, str | None, str | None]:
    """(ndc 11 digits, ndc 5-4-2 with dashes, alternate id) for an NDC written any usual way.

    4-4-2, 5-3-2 and 5-4-1 NDCs get the zero that makes them 5-4-2. Anything that is not an NDC
    (CMS lists some alternate ids, e.g. 12 digits) is kept as the alternate id only.
    """
    value = (raw or "").replace("\xa0", " ").strip()
    if not value:
        return None, None, None
    m = re.fullmatch(r"(\d{4,5})-(\d{3,4})-(\d{1,2})", value)
    if m:
        labeler, product, package = m.groups()
        if len(labeler) + len(product) + len(package) in (10, 11):
            ndc = labeler.zfill(5) + product.zfill(4) + package.zfill(2)
            return ndc, f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}", None
    if re.fullmatch(r"\d{11}", value):
        return value, f"{value[:5]}-{value[5:9]}-{value[9:]}", None
    return None, None, value


# --- header rows found by content -----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str  # our column name
    headers: str  # regex, full match against the normalised header cell
    convert: Callable[[str], object] = text
    required: bool = True
    label: str | None = None  # how messages name the header (default: its first alternative)


def norm_header(cell: str) -> str:
    return " ".join(str(cell).replace("\xa0", " ").replace("*", " ").lower().split())


def find_header(rows: list[list[str]], columns: list[Column]) -> tuple[int, dict[str, int]] | None:
    """The first row (among the first HEADER_SCAN_ROWS) holding every required column's header."""
    patterns = [(c, re.compile(c.headers)) for c in columns]
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = [norm_header(c) for c in row]
        found: dict[str, int] = {}
        for col, pattern in patterns:
            for j, cell in enumerate(cells):
                if cell and pattern.fullmatch(cell) and j not in found.values():
                    found[col.name] = j
                    break
        if all(c.name in found for c in columns if c.required):
            return i, found
    return None


def header_problem(columns: list[Column]) -> str:
    wanted = ", ".join(c.label or c.headers.split("|")[0] for c in columns if c.required)
    return f"header row not found: no row among the first {HEADER_SCAN_ROWS} has the columns {wanted}"


def data_rows(table: Table, header_at: int, found: dict[str, int], columns: list[Column]):
    """(row number, {our column: converted value}) for each non-empty row below the header."""
    for i, row in enumerate(table.rows[header_at + 1:], start=header_at + 2):
        if not any(str(c).strip() for c in row):
            continue
        out = {}
        for col in columns:
            j = found.get(col.name)
            cell = row[j] if j is not None and j < len(row) else ""
            try:
                out[col.name] = col.convert(cell)
            except ValueError as exc:
                raise CMSFileError(table.name, f"row {i}, column {col.name!r}: {exc}") from None
        yield i, out


# --- periods --------------------------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate(
    ("january february march april may june july august september october november december").split(), 1)}
MONTH_ABBR = {m[:3]: i for m, i in MONTHS.items()}
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
WINDOW = re.compile(
    _MONTH + r"\s+(\d{1,2}),?\s+(\d{4})\s+(?:through|thru|to|-|–)\s+" + _MONTH + r"\s+(\d{1,2}),?\s+(\d{4})",
    re.IGNORECASE,
)
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
RELEASE = re.compile(r"^\d{4}$")


def quarter_of(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def quarter_window(quarter: str) -> tuple[str | None, str | None]:
    """First and last day of a quarter; an annual release starts on 1 January and has no end."""
    if RELEASE.fullmatch(quarter):
        return f"{quarter}-01-01", None
    m = QUARTER.fullmatch(quarter)
    year, q = int(m.group(1)), int(m.group(2))
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
    return start.isoformat(), end.isoformat()


def window_in(lines: list[str]) -> tuple[str, str] | None:
    for line in lines:
        m = WINDOW.search(" ".join(line.split()))
        if m:
            m1, d1, y1, m2, d2, y2 = m.groups()
            try:
                start = dt.date(int(y1), MONTHS[m1.lower()], int(d1))
                end = dt.date(int(y2), MONTHS[m2.lower()], int(d2))
            except ValueError:
                continue
            return start.isoformat(), end.isoformat()
    return None


def quarter_in_title(title: str) -> str | None:
    """'January 2026 ASP NDC - HCPCS Crosswalk ...' -> '2026Q1' (the month must lead the title)."""
    m = re.match(_MONTH + r"\s+(\d{4})\b", title.strip(), re.IGNORECASE)
    if not m:
        return None
    month = MONTHS[m.group(1).lower()]
    return f"{m.group(2)}Q{(month - 1) // 3 + 1}"


def quarter_in_name(name: str, annual_ok: bool = False) -> str | None:
    """The quarter a CMS file name shows: 2026Q1, 'January 2026', 'jan_2025', HCPC2024_JAN_...;
    with annual_ok, a bare year in HCPC2019_... or NOC_Codes_2019 is an annual release."""
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    lower = base.lower()
    m = re.search(r"(?<!\d)(\d{4})[\s_-]?q([1-4])(?!\d)", lower)
    if m:
        return f"{m.group(1)}Q{m.group(2)}"
    m = re.search(r"(?<!\d)q([1-4])[\s_-]?(\d{4})(?!\d)", lower)
    if m:
        return f"{m.group(2)}Q{m.group(1)}"
    month_word = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    m = re.search(r"(?<![a-z])" + month_word + r"[\s_.-]*(\d{4})(?!\d)", lower)
    if m:
        return f"{m.group(2)}Q{(MONTH_ABBR[m.group(1)] - 1) // 3 + 1}"
    m = re.search(r"(?<!\d)(\d{4})[\s_-]*" + month_word + r"(?![a-z])", lower)
    if m:
        return f"{m.group(1)}Q{(MONTH_ABBR[m.group(2)] - 1) // 3 + 1}"
    if annual_ok:
        m = re.search(r"(?:hcpcs?|noc[\s_]codes)[\s_-]*(\d{4})(?!\d)", lower)
        if m:
            return m.group(1)
    return None


@dataclass
class Period:
    quarter: str
    effective_from: str | None
    effective_to: str | None
    found_in: str


def resolve_period(table: Table, preamble: list[str], given: str | None, annual_ok: bool = False) -> Period:
    """The file's period: its effective window (preamble), else a month and year leading its
    title, else a quarter in its file name, else (HCPCS releases) a year in its title or name,
    else --quarter. A --quarter that disagrees with what the file shows is an error; one that
    narrows a year the file shows to a quarter of that year is taken."""
    window = window_in(preamble)
    title = next((line for line in preamble if line.strip()), "")
    found: Period | None = None
    if window:
        found = Period(quarter_of(window[0]), window[0], window[1], "preamble")
    else:
        for where, quarter in (
            ("title", quarter_in_title(title)),
            ("file name", quarter_in_name(table.member)),
            ("title", annual_ok and quarter_in_name(title, True)),
            ("file name", annual_ok and quarter_in_name(table.member, True)),
        ):
            if quarter:
                found = Period(quarter, *quarter_window(quarter), where)
                break
    if given and (found is None or (RELEASE.fullmatch(found.quarter) and given.startswith(found.quarter))):
        return Period(given, *quarter_window(given), "--quarter")
    if found is None:
        raise CMSFileError(
            table.name,
            "quarter unknown: the file shows no effective dates and its name no quarter; "
            "give --quarter (e.g. --quarter 2026Q2)",
        )
    if given and given != found.quarter:
        raise CMSFileError(
            table.name,
            f"the {found.found_in} says {found.quarter} but --quarter says {given}; "
            "leave --quarter out or check the file",
        )
    return found


def preamble_lines(table: Table, header_at: int) -> list[str]:
    return [" ".join(str(c) for c in row if str(c).strip()) for row in table.rows[:header_at]]
