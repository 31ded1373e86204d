"""Every kind of CMS file payerkb reads, and `read_file`: open a file, tell its kind, parse it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The kinds' modules by their full names: `from scrapers.cms import asp` would read them from the
# package, whose __init__ imports this module (an import cycle; tests/test_architecture.py).
import scrapers.cms.asp as asp
import scrapers.cms.crosswalk as crosswalk
import scrapers.cms.hcpcs as hcpcs
import scrapers.cms.noc_codes as noc_codes
import scrapers.cms.noc_crosswalk as noc_crosswalk
import scrapers.cms.noc_pricing as noc_pricing
import scrapers.cms.opps as opps
from scrapers.cms.base import Kind
from scrapers.cms.common import QUARTER, RELEASE, CMSFileError, Parsed, Table
from scrapers.cms.sniff import MAX_FILE_BYTES, open_tables

# Order matters for detection: the more specific header signatures first.
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        crosswalk.KIND,
        noc_crosswalk.KIND,
        noc_pricing.KIND,
        asp.KIND,
        opps.KIND,
        hcpcs.KIND,
        noc_codes.KIND,
    )
}
KIND_BY_TABLE = {k.table: k for k in KINDS.values()}


@dataclass
class ReadResult:
    parsed: list[Parsed] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (table name, why)


def check_quarter(kind: Kind | None, quarter: str | None) -> None:
    if quarter is None:
        return
    if QUARTER.fullmatch(quarter) or (RELEASE.fullmatch(quarter) and (kind is None or kind.annual)):
        return
    raise ValueError(f"{quarter!r} is not a quarter written like 2026Q2"
                     + (" (or a year like 2019 for a HCPCS release)" if kind is None or kind.annual else ""))


def detect(table: Table) -> tuple[Kind, object] | None:
    for kind in KINDS.values():
        found = kind.match(table)
        if found:
            return kind, found
    return None


def read_tables(tables: list[Table], name: str, kind: str = "auto", quarter: str | None = None) -> ReadResult:
    """Parse every table of one input file. A single table that cannot be read is an error; in a
    ZIP or a workbook, tables of no known kind are skipped (and said so), and where one kind and
    quarter comes in several formats (CSV and XLS of the same file) the preferred one is kept."""
    forced = KINDS[kind] if kind != "auto" else None
    check_quarter(forced, quarter)
    result = ReadResult()
    several = len(tables) > 1
    errors: list[CMSFileError] = []
    for table in tables:
        if forced:
            found = forced.match(table)
            hit = (forced, found) if found else None
        else:
            hit = detect(table)
        if not hit:
            why = forced.missing() if forced else (
                "not a CMS file payerkb knows (no known header row in the first rows); "
                "give --kind if it is one"
            )
            if several:
                result.skipped.append((table.name, why))
                continue
            raise CMSFileError(table.name, why)
        k, found = hit
        if quarter and RELEASE.fullmatch(quarter) and not k.annual:
            raise CMSFileError(table.name, f"--quarter {quarter} does not fit a {k.label}")
        try:
            result.parsed.append(k.parse(table, found, quarter))
        except CMSFileError as exc:
            if several and "payerkb reads only" in exc.problem:
                result.skipped.append((table.name, exc.problem))
                continue
            errors.append(exc)
    if errors:
        raise errors[0]
    if not result.parsed:
        raise CMSFileError(name, "no CMS data file payerkb reads was found in it: "
                           + "; ".join(f"{n}: {why}" for n, why in result.skipped))
    result.parsed = _best_format(result)
    return result


def _best_format(result: ReadResult) -> list[Parsed]:
    best: dict[tuple[str, str], Parsed] = {}
    for p in result.parsed:
        key = (p.kind, p.quarter)
        prefer = KINDS[p.kind].prefer
        rank = prefer.index(p.fmt) if p.fmt in prefer else len(prefer)
        if key not in best:
            best[key] = p
            continue
        old = best[key]
        old_rank = prefer.index(old.fmt) if old.fmt in prefer else len(prefer)
        keep, drop = (p, old) if rank < old_rank else (old, p)
        best[key] = keep
        result.skipped.append((drop.source, f"same {p.kind} {p.quarter} as {keep.source}"))
    return list(best.values())


def read_file(path: Path | str, kind: str = "auto", quarter: str | None = None) -> ReadResult:
    """Open `path` (ZIP, CSV, TXT/PRN, XLS, XLSX) and parse what it holds."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CMSFileError(str(path), f"cannot read the file ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise CMSFileError(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB; CMS files are far smaller")
    return read_tables(open_tables(data, str(path)), str(path), kind, quarter)
