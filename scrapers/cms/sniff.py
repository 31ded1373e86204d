"""Open whatever CMS ships (a ZIP, CSV, fixed-width TXT/PRN, XLS or XLSX) as Tables of text cells.

The format is told by the bytes, not the file name: ZIP and XLSX start with PK (an XLSX is a ZIP
holding xl/workbook.xml), XLS with the OLE2 signature, anything else is text. Text is UTF-8 when
it decodes as such, otherwise CP1252 (CMS files carry 0xA0 and 0xFF bytes), falling back to
Latin-1 for the few bytes CP1252 leaves undefined.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from pathlib import PurePosixPath

from scrapers.cms.common import CMSFileError, Table

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_ZIP_DEPTH = 2
# Bounds well above any CMS file (the NDC-HCPCS crosswalk is a few MB, ~30,000 rows): past them the
# file is refused before it can exhaust memory (a ZIP bomb, a sheet declaring A1:XFD1048576).
MAX_FILE_BYTES = 256 * 2**20
MAX_EXPANDED_BYTES = 512 * 2**20
MAX_ROWS = 1_000_000
MAX_COLUMNS = 1_000


def open_tables(data: bytes, name: str, member: str | None = None, depth: int = 0) -> list[Table]:
    """Every grid in `data` (a file's bytes); `name` is what messages call it."""
    member = member or PurePosixPath(name).name
    if not data.strip():
        raise CMSFileError(name, "the file is empty")
    sha = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise CMSFileError(name, f"not a readable ZIP or XLSX file ({exc})") from None
        names = archive.namelist()
        expanded = sum(max(info.file_size, 0) for info in archive.infolist())
        if expanded > MAX_EXPANDED_BYTES:
            raise CMSFileError(name, f"the archive expands to {expanded // 2**20} MiB, more than the "
                                     f"{MAX_EXPANDED_BYTES // 2**20} MiB payerkb reads (a damaged file or a ZIP bomb)")
        if "xl/workbook.xml" in names:
            return _xlsx(data, name, member, sha)
        if depth >= MAX_ZIP_DEPTH:
            return []
        tables = []
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or path.name.startswith((".", "~$")) or "__MACOSX" in path.parts:
                continue
            content = _read_member(archive, info, name)
            if not content.strip():
                continue
            tables.extend(open_tables(content, f"{name}!{info.filename}", path.name, depth + 1))
        if not tables and depth == 0:
            raise CMSFileError(name, "the ZIP holds no file payerkb can read")
        return tables
    if data[:8] == OLE2:
        return _xls(data, name, member, sha)
    text = decode(data)
    try:
        rows = []
        for row in csv.reader(io.StringIO(text)):
            rows.append(row[:MAX_COLUMNS])
            if len(rows) > MAX_ROWS:
                raise CMSFileError(name, f"more than {MAX_ROWS:,} rows; CMS files are far smaller")
    except csv.Error as exc:
        raise CMSFileError(name, f"not a readable CSV or text file (line {len(rows) + 1}: {exc})") from None
    fmt = "txt" if member.lower().endswith((".txt", ".prn")) else "csv"
    return [Table(name, member, sha, fmt, rows, text)]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """A ZIP member's bytes, read no further than the cap (the declared size can lie)."""
    try:
        with archive.open(info) as fh:
            content = fh.read(MAX_EXPANDED_BYTES + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError, ValueError) as exc:
        raise CMSFileError(f"{name}!{info.filename}", f"cannot be unpacked ({exc})") from None
    if len(content) > MAX_EXPANDED_BYTES:
        raise CMSFileError(f"{name}!{info.filename}", f"expands past {MAX_EXPANDED_BYTES // 2**20} MiB")
    return content


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def cell_text(value) -> str:
    """A spreadsheet cell as the text a CSV export would show."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    # openpyxl leaves control characters escaped as _xHHHH_ (CMS sheets end with _x001A_)
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), str(value))


def _xlsx(data: bytes, name: str, member: str, sha: str) -> list[Table]:
    import warnings

    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CMS workbooks have headers/footers openpyxl cannot parse
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise CMSFileError(name, f"not a readable XLSX workbook ({exc})") from None
        tables = []
        try:
            for sheet in book.worksheets:
                # ignore the declared dimension (a 5 KB file can declare A1:XFD1048576): read what is there
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()
                rows = []
                for row in sheet.iter_rows(values_only=True):
                    rows.append([cell_text(v) for v in row[:MAX_COLUMNS]])
                    if len(rows) > MAX_ROWS:
                        raise CMSFileError(f"{name}[{sheet.title}]", f"more than {MAX_ROWS:,} rows; CMS files are far smaller")
                tables.append(Table(f"{name}[{sheet.title}]", member, sha, "xlsx", _trim(rows)))
        except CMSFileError:
            raise
        except Exception as exc:  # a damaged sheet: openpyxl raises many kinds
            raise CMSFileError(name, f"not a readable XLSX workbook ({exc})") from None
        finally:
            book.close()
    return tables


def _xls(data: bytes, name: str, member: str, sha: str) -> list[Table]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError and struct errors alike
        raise CMSFileError(name, f"not a readable XLS workbook ({exc})") from None
    tables = []
    for sheet in book.sheets():
        rows = []
        for r in range(sheet.nrows):
            row = []
            for c, cell in enumerate(sheet.row(r)):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    row.append(cell_text(xlrd.xldate_as_datetime(cell.value, book.datemode)))
                else:
                    row.append(cell_text(cell.value))
            rows.append(row)
        tables.append(Table(f"{name}[{sheet.name}]", member, sha, "xls", _trim(rows)))
    return tables


def _trim(rows: list[list[str]]) -> list[list[str]]:
    """Drop the empty cells at the end of each row (CMS sheets carry hundreds)."""
    out = []
    for row in rows:
        end = len(row)
        while end and not row[end - 1].strip():
            end -= 1
        out.append(row[:end])
    return out
