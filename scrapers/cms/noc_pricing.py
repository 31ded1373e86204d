"""The ASP NOC pricing file: payment limits for drugs CMS prices although they have no HCPCS code
of their own (billed under J3490, J3590, J9999 ...). Rows are keyed by drug name, not by code."""
from __future__ import annotations

from scrapers.cms.base import ASP_PAGE, tabular_kind
from scrapers.cms.common import Column, number

COLUMNS = [
    Column("drug_name", r"drug generic name( \(trade name\))?", label="drug generic name"),
    Column("dosage", r"dosage"),
    Column("payment_limit", r"payment limit", number),
    Column("notes", r"notes?", required=False),
]

FIELDS = {"drug_name": str, "dosage": str, "payment_limit": float, "notes": str}

KIND = tabular_kind(
    name="noc-pricing", table="noc_pricing", label="ASP NOC pricing file", source_url=ASP_PAGE,
    columns=COLUMNS, fields=FIELDS, code_column=None,
)
