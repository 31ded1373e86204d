"""OPPS Addendum B: each HCPCS code's status indicator, APC and payment rate in hospital outpatient
departments (the SI tells whether a NOC drug is packaged, paid separately or not paid)."""
from __future__ import annotations

from formats.cms import FORMATS
from scrapers.cms.base import code, tabular_kind
from scrapers.cms.common import Column, number, text


def _flag(value: str) -> int:
    return int(bool(str(value).strip()))


COLUMNS = [
    Column("hcpcs", r"hcpcs code|hcpcs", code),
    Column("short_descriptor", r"short desc(riptor|ription)?", label="short descriptor"),
    Column("status_indicator", r"si|status indicator", code),
    Column("apc", r"apc", text),
    Column("relative_weight", r"relative weight", number, required=False),
    Column("payment_rate", r"payment rate", number, required=False),
    Column("national_unadjusted_copayment", r"national unadjusted copayment", number, required=False),
    Column("minimum_unadjusted_copayment", r"minimum unadjusted copayment", number, required=False),
    Column("pass_through_expires", r"drug and device pass-through expiration.*", _flag, required=False),
    Column("changed", r"indicates a change", _flag, required=False),
]

FORMAT = FORMATS["opps"]  # table, CSV columns, period: formats/cms.py

KIND = tabular_kind(
    FORMAT, columns=COLUMNS,
)
