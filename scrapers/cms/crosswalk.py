"""The ASP NDC-HCPCS crosswalk: which NDCs CMS maps to each HCPCS code, with billing units.

The first column's header carries the year (_2026_CODE). The same ZIP also ships the AWP, OPPS
and PrEP crosswalks with the same layout; those are refused so they cannot pass for this one.
"""
from __future__ import annotations

import re

from formats.cms import FORMATS
from scrapers.cms.base import code, tabular_kind
from scrapers.cms.common import Column, Table, ndc_parts, number

COLUMNS = [
    Column("hcpcs", r"_\d{4}_code|hcpcs code|hcpcs level ii code.*|hcpcs", code, label="_YYYY_CODE"),
    Column("short_descriptor", r"short desc(ription|riptor)?.*", label="short description"),
    Column("labeler", r"labeler name|labeler"),
    Column("ndc_raw", r"ndc2|ndc|11-digit ndc.*|ndc or alternate id"),
    Column("drug_name", r"drug name"),
    Column("hcpcs_dosage", r"hcpcs dosage|code dosage.*|dosage"),
    Column("pkg_size", r"pkg size|package size", number),
    Column("pkg_qty", r"pkg qty|package quantity", number),
    Column("bill_units", r"billunits|billable units per package", number),
    Column("bill_units_pkg", r"billunitspkg|billable units per 11-digit ndc", number),
]

FORMAT = FORMATS["crosswalk"]  # table, CSV columns, period: formats/cms.py

OTHER_CROSSWALK = re.compile(r"\b(AWP|OPPS|PrEP)\b", re.IGNORECASE)


def _split_ndc(row: dict) -> dict:
    row["ndc"], row["ndc_542"], row["alternate_id"] = ndc_parts(row.pop("ndc_raw") or "")
    return row


def _other_crosswalk(table: Table, preamble: list[str]) -> str | None:
    title = next((line for line in preamble if line.strip()), "")
    for said in (table.member, title):
        m = OTHER_CROSSWALK.search(said)
        if m:
            return f"this is the {m.group(1)} NDC-HCPCS crosswalk; payerkb reads only the ASP one"
    return None


KIND = tabular_kind(
    FORMAT, columns=COLUMNS, finish=_split_ndc, refuse=_other_crosswalk,
)
