"""The Medicare Part B ASP payment limit file ("Payment Allowance Limits for Medicare Part B
Drugs"): one row per HCPCS code with its payment limit per dosage unit for the quarter."""
from __future__ import annotations

from scrapers.cms.base import ASP_PAGE, code, tabular_kind
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

FIELDS = {
    "hcpcs": str, "short_descriptor": str, "hcpcs_dosage": str, "payment_limit": float,
    "coinsurance_pct": float, "vaccine_awp_pct": float, "vaccine_limit": float,
    "blood_awp_pct": float, "blood_limit": float, "clotting_factor": str, "notes": str,
}

KIND = tabular_kind(
    name="asp", table="asp_payment_limits", label="ASP payment limit file", source_url=ASP_PAGE,
    columns=COLUMNS, fields=FIELDS,
)
