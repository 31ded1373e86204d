"""Load the CMS reference files shipped in policies/reference/cms/ into the database.

Every manifest entry becomes dated rows of its kind's table (each quarter its own rows, so a newer
quarter never hides an older one), plus one row of `cms_files`. All tables exist even when the
manifest has no file of their kind, so queries against them never fail on a fresh clone.
"""
from __future__ import annotations

from pathlib import Path

import sqlite_utils

from db.bulk import insert_rows
from db.errors import BuildError
from formats.cms import FOLDER as CMS_FOLDER, FORMATS as KINDS, ManifestError, load_manifest, load_rows

CMS_FILES_COLUMNS = {
    "id": str, "kind": str, "table_name": str, "quarter": str, "effective_from": str,
    "effective_to": str, "period_from": str, "source_url": str, "original_file": str, "sha256": str,
    "row_count": int, "dropped": str, "file": str, "ingested": str, "note": str,
}

INDEXES = {
    "ndc_hcpcs_crosswalk": [["hcpcs"], ["ndc"], ["quarter"], ["alternate_id"]],
    "asp_payment_limits": [["hcpcs"], ["quarter"]],
    "opps_status_indicators": [["hcpcs"], ["quarter"]],
    "noc_pricing": [["drug_name"]],
    "noc_ndc_crosswalk": [["ndc"], ["drug_generic_name"]],
    "hcpcs_noc_codes": [["hcpcs"]],
    "hcpcs_codes": [["hcpcs"]],
}


def _create(db: sqlite_utils.Database) -> None:
    db["cms_files"].create(CMS_FILES_COLUMNS, pk="id", not_null={"kind", "quarter", "source_url"})
    for kind in KINDS.values():
        columns = {c: str for c in kind.period} | {"cms_file_id": str} | dict(kind.fields)
        db[kind.table].create(columns, foreign_keys=[("cms_file_id", "cms_files", "id")])
    db.create_view("current_ndc_hcpcs_crosswalk", """
select * from ndc_hcpcs_crosswalk
where quarter = (select max(quarter) from ndc_hcpcs_crosswalk)""")


def load_cms_tables(db: sqlite_utils.Database, kb, out_path) -> None:
    folder = Path(kb.root) / CMS_FOLDER
    try:
        entries = load_manifest(folder)
        loaded = [(entry, load_rows(folder, entry)) for entry in entries]
    except ManifestError as exc:
        raise BuildError(f"CMS reference data: {exc}; the database was not changed") from None
    with db.conn:
        _create(db)
        for entry, rows in loaded:
            kind = KINDS[entry.kind]
            db["cms_files"].insert({
                "id": entry.id, "kind": entry.kind, "table_name": kind.table,
                "quarter": entry.quarter, "effective_from": entry.effective_from,
                "effective_to": entry.effective_to, "period_from": entry.period_from,
                "source_url": entry.source_url, "original_file": entry.original_file,
                "sha256": entry.original_sha256, "row_count": entry.rows,
                "dropped": ", ".join(f"{n} {k}" for k, n in entry.dropped.items()) or None,
                "file": str(CMS_FOLDER / entry.file), "ingested": entry.ingested, "note": entry.note,
            })
            period = {"release": entry.quarter} if kind.annual else {
                "quarter": entry.quarter, "effective_from": entry.effective_from,
                "effective_to": entry.effective_to}
            insert_rows(db, kind.table, [{**period, "cms_file_id": entry.id, **row} for row in rows])
    for table, indexes in INDEXES.items():  # after the rows: faster than updating them row by row
        for cols in indexes:
            db[table].create_index(cols)
