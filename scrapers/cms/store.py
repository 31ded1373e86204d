"""policies/reference/cms/: one normalised CSV per (kind, quarter) plus manifest.yml describing each.

`save()` adds parsed files (a newer quarter is a new entry; the same kind and quarter again
replaces that entry) and writes atomically: every CSV and the manifest go to temporary files
first and are renamed into place only when all were written. `load_manifest()` and `load_rows()`
read it back for the build, checking each CSV against the manifest (columns, hash, row count).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scrapers.cms.common import Parsed
from scrapers.cms.kinds import KINDS

MANIFEST = "manifest.yml"
HEADER_COMMENT = (
    "# CMS reference files shipped with payerkb, one entry per normalised CSV in this folder.\n"
    "# Written by `payerkb ingest-cms FILE...`; loaded by `payerkb build` (db/cms_tables.py).\n"
    "# original_file / original_sha256 name the CMS file the CSV was made from; source_url is the\n"
    "# CMS page that publishes it. Only HCPCS Level II rows are kept (dropped counts the others).\n"
)


class ManifestError(ValueError):
    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal[tuple(KINDS)]
    quarter: Annotated[str, Field(pattern=r"^\d{4}(Q[1-4])?$")]
    effective_from: IsoDate | None = None
    effective_to: IsoDate | None = None
    period_from: Literal["preamble", "title", "file name", "--quarter"]
    source_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    original_file: str
    original_sha256: Sha256
    rows: Annotated[int, Field(ge=0)]
    dropped: dict[str, int] = Field(default_factory=dict)
    file: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.csv$")]
    sha256: Sha256
    ingested: IsoDate
    note: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[Entry] = Field(default_factory=list)


def load_manifest(folder: Path | str) -> list[Entry]:
    """The manifest's entries; [] when the folder has no manifest. Raises ManifestError."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"not valid YAML ({exc})") from None
    try:
        entries = Manifest.model_validate(raw).files
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(path, f"{where}: {first['msg']}") from None
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise ManifestError(path, f"duplicate entry id {e.id!r}")
        seen.add(e.id)
    return entries


def csv_text(parsed: Parsed) -> str:
    fields = list(KINDS[parsed.kind].fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in parsed.rows:
        writer.writerow([_cell(row.get(f)) for f in fields])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def entry_id(kind: str, quarter: str) -> str:
    return f"{kind}-{quarter}"


def save(
    folder: Path | str,
    parsed: list[Parsed],
    source_url: str | None = None,
    note: str | None = None,
    today: str | None = None,
) -> list[Entry]:
    """Write the parsed files and their manifest entries; return the new entries."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {e.id: e for e in load_manifest(folder)}
    today = today or dt.date.today().isoformat()
    staged: list[tuple[Path, Path]] = []
    new: list[Entry] = []
    try:
        for p in parsed:
            eid = entry_id(p.kind, p.quarter)
            body = csv_text(p).encode("utf-8")
            target = folder / f"{eid}.csv"
            tmp = folder / f".{target.name}.tmp-{os.getpid()}"
            tmp.write_bytes(body)
            staged.append((tmp, target))
            entry = Entry(
                id=eid, kind=p.kind, quarter=p.quarter, effective_from=p.effective_from,
                effective_to=p.effective_to, period_from=p.period_from,
                source_url=source_url or KINDS[p.kind].source_url, original_file=p.original_file,
                original_sha256=p.original_sha256, rows=p.row_count, dropped=dict(sorted(p.dropped.items())),
                file=target.name, sha256=hashlib.sha256(body).hexdigest(), ingested=today, note=note,
            )
            entries[eid] = entry
            new.append(entry)
        order = list(KINDS)
        ordered = sorted(entries.values(), key=lambda e: (order.index(e.kind), e.quarter))
        manifest = folder / MANIFEST
        tmp_manifest = folder / f".{MANIFEST}.tmp-{os.getpid()}"
        dumped = Manifest(files=ordered).model_dump(mode="json", exclude_none=True)
        tmp_manifest.write_text(HEADER_COMMENT + yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True),
                                encoding="utf-8")
        staged.append((tmp_manifest, manifest))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:  # the manifest last: until it is renamed, nothing points at new CSVs
        os.replace(tmp, target)
    return new


def load_rows(folder: Path | str, entry: Entry) -> list[dict]:
    """The typed rows of one entry's CSV, after checking it is the file the manifest describes."""
    path = Path(folder) / entry.file
    if not path.exists():
        raise ManifestError(path, f"missing: the manifest entry {entry.id!r} names it")
    body = path.read_bytes()
    if hashlib.sha256(body).hexdigest() != entry.sha256:
        raise ManifestError(path, f"changed since it was ingested (sha256 differs from manifest entry "
                                  f"{entry.id!r}); re-run payerkb ingest-cms on the CMS file")
    fields = KINDS[entry.kind].fields
    reader = csv.reader(io.StringIO(body.decode("utf-8")))
    header = next(reader, [])
    if header != list(fields):
        raise ManifestError(path, f"columns are {header}, expected {list(fields)}")
    rows = []
    for n, values in enumerate(reader, start=2):
        if len(values) != len(fields):
            raise ManifestError(path, f"line {n}: {len(values)} values for {len(fields)} columns")
        row = {}
        for (name, typ), value in zip(fields.items(), values):
            try:
                row[name] = None if value == "" else typ(value)
            except ValueError:
                raise ManifestError(path, f"line {n}, column {name!r}: {value!r} is not a {typ.__name__}") from None
        rows.append(row)
    if len(rows) != entry.rows:
        raise ManifestError(path, f"has {len(rows)} rows, the manifest says {entry.rows}")
    return rows
