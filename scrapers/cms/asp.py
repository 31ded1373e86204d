"""The Medicare Part B ASP payment limit file ("Payment Allowance Limits for Medicare Part B
Drugs"): one row per HCPCS code with its payment limit per dosage unit for the quarter."""
from __future__ import annotations

from formats.cms import FORMATS
from scrapers.cms.base import code, tabular_kind
from scrapers.cms.common import Column, number

COLUMNS = [
    Column("hcpcs", r"hcpcs code|hcpcs", code),
    Column("short_descriptor", r"short desc(ription|riptor)?", label="short description"),
    Column("hcpcs_dosage", r"hcpcs code dosage|hcpcs dosage|code dosage"),
    Column("payment_limit", r"payment limit", number),
    Column("coinsurance_pct", r"co-?insurance percentage", number, required=False),
    Column("vaccine_awp_pct", r"vaccine awp ?%", number, required=False),
    Column("vaccine_limit", r"vaccine limit", number, required=False),
    Column("blood_awp_pct", r"blood awp ?%", number, required=False),
    Column("blood_limit", r"blood limit", number, required=False),
    Column("clotting_factor", r"clotting factor", required=False),
    Column("notes", r"notes?", required=False),
]

FORMAT = FORMATS["asp"]  # table, CSV columns, period: formats/cms.py

KIND = tabular_kind(
    FORMAT, columns=COLUMNS,
)
