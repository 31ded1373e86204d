"""The ASP NOC pricing file: payment limits for drugs CMS prices although they have no HCPCS code
of their own (billed under J3490, J3590, J9999 ...). Rows are keyed by drug name, not by code."""
from __future__ import annotations

from formats.cms import FORMATS
from scrapers.cms.base import tabular_kind
from scrapers.cms.common import Column, number

COLUMNS = [
    Column("drug_name", r"drug generic name( \(trade name\))?", label="drug generic name"),
    Column("dosage", r"dosage"),
    Column("payment_limit", r"payment limit", number),
    Column("notes", r"notes?", required=False),
]

FORMAT = FORMATS["noc-pricing"]  # table, CSV columns, period: formats/cms.py

KIND = tabular_kind(
    FORMAT, columns=COLUMNS, code_column=None,
)
