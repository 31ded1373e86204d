"""The ASP NOC NDC-HCPCS crosswalk: the NDCs of the drugs in the NOC pricing file, joined to it by
drug generic name (the file has no HCPCS column)."""
from __future__ import annotations

from formats.cms import FORMATS
from scrapers.cms.base import tabular_kind
from scrapers.cms.common import Column, ndc_parts, number

COLUMNS = [
    Column("drug_generic_name", r"drug generic name( \(trade name\))?", label="drug generic name"),
    Column("labeler", r"labeler name|labeler"),
    Column("ndc_raw", r"ndc or alternate id|ndc2?|11-digit ndc.*"),
    Column("drug_name", r"drug name"),
    Column("dosage", r"dosage|hcpcs dosage", required=False),
    Column("pkg_size", r"pkg size|package size", number, required=False),
    Column("pkg_qty", r"pkg qty|package quantity", number, required=False),
    Column("bill_units", r"billunits|billable units per package", number),
    Column("bill_units_pkg", r"billunitspkg|billable units per 11-digit ndc", number, required=False),
]

FORMAT = FORMATS["noc-crosswalk"]  # table, CSV columns, period: formats/cms.py


def _split_ndc(row: dict) -> dict:
    row["ndc"], row["ndc_542"], row["alternate_id"] = ndc_parts(row.pop("ndc_raw") or "")
    return row


KIND = tabular_kind(
    FORMAT, columns=COLUMNS, code_column=None, finish=_split_ndc,
)
