"""The ASP NOC NDC-HCPCS crosswalk: the NDCs of the drugs in the NOC pricing file, joined to it by
drug generic name (the file has no HCPCS column)."""
from __future__ import annotations

from scrapers.cms.base import ASP_PAGE, tabular_kind
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

FIELDS = {
    "drug_generic_name": str, "labeler": str, "ndc": str, "ndc_542": str, "alternate_id": str,
    "drug_name": str, "dosage": str, "pkg_size": float, "pkg_qty": float, "bill_units": float,
    "bill_units_pkg": float,
}


def _split_ndc(row: dict) -> dict:
    row["ndc"], row["ndc_542"], row["alternate_id"] = ndc_parts(row.pop("ndc_raw") or "")
    return row


KIND = tabular_kind(
    name="noc-crosswalk", table="noc_ndc_crosswalk", label="ASP NOC NDC-HCPCS crosswalk",
    source_url=ASP_PAGE, columns=COLUMNS, fields=FIELDS, code_column=None, finish=_split_ndc,
)
