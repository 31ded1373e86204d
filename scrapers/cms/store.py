"""policies/reference/cms/: one normalised CSV per (kind, quarter) plus manifest.yml describing each.

`save()` adds parsed files (a newer quarter is a new entry; the same kind and quarter again
replaces that entry) and writes atomically: every CSV and the manifest go to temporary files
first and are renamed into place only when all were written. The folder's format (the CSVs'
columns, manifest.yml, and reading it back for the build) is formats/cms.py's.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import yaml

from formats.cms import (  # noqa: F401 - load_manifest, load_rows re-exported for callers
    FORMATS, HEADER_COMMENT, MANIFEST, Entry, Manifest, ManifestError, load_manifest, load_rows,
)
from scrapers.cms.common import Parsed


def csv_text(parsed: Parsed) -> str:
    fields = list(FORMATS[parsed.kind].fields)
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
                source_url=source_url or FORMATS[p.kind].source_url, original_file=p.original_file,
                original_sha256=p.original_sha256, rows=p.row_count, dropped=dict(sorted(p.dropped.items())),
                file=target.name, sha256=hashlib.sha256(body).hexdigest(), ingested=today, note=note,
            )
            entries[eid] = entry
            new.append(entry)
        order = list(FORMATS)
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
