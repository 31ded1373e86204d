"""CMS Coverage API: local billing-and-coding articles that list NOC drug codes.

Flow (API spec v1.5): a license-agreement token (valid one hour) -> the report of active local
coverage articles -> for each article whose title is about drugs or NOC codes (or that is
pinned in the registry), its HCPCS code list, sent with the token as a Bearer header. Articles
listing at least one NOC code are kept, with their HCPCS Level II codes (CPT rows are dropped:
their descriptors are the AMA's).
"""
from __future__ import annotations

import re

from scrapers.extract import NOC_CODES
from scrapers.fetch import Fetched, Fetcher
from scrapers.html import ParseError, parse_date
from scrapers.registry import PINNED_ARTICLES, ScrapeResult, SourceSpec, api_url

TITLE = re.compile(r"not otherwise classified|unclassified|unlisted|\bNOC\b|drugs and biologicals", re.I)
LEVEL_II = re.compile(r"^[A-V]\d{4}$")
CONTRACTOR_PAYERS = (
    ("Noridian", ("medicare-noridian-je", "medicare-noridian-jf")),
    ("Palmetto", ("medicare-palmetto-jj", "medicare-palmetto-jm")),
    ("Novitas", ("medicare-novitas-jh", "medicare-novitas-jl")),
    ("First Coast", ("medicare-fcso-jn",)),
    ("CGS", ("medicare-cgs-j15",)),
    ("WPS", ("medicare-wps-j5", "medicare-wps-j8")),
)


def data(got: Fetched) -> list[dict]:
    """The `data` list of an API answer, or a ParseError saying the envelope changed."""
    try:
        body = got.json()
    except ValueError:
        raise ParseError(f"{got.url}: the answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ParseError(f"{got.url}: no 'data' list in the answer; the API's shape has changed")
    return body["data"]


def token(fetcher: Fetcher) -> str:
    got = fetcher.get(api_url("/v1/metadata/license-agreement/"), conditional=False)
    rows = data(got)
    value = rows[0].get("token") if rows and isinstance(rows[0], dict) else None
    if not value:
        raise ParseError(f"{got.url}: no token in the license-agreement answer")
    return value


def fetch(spec: SourceSpec, fetcher: Fetcher, tick=None) -> dict:
    auth = {"Authorization": f"Bearer {token(fetcher)}"}
    report = fetcher.get(api_url("/v1/reports/local-coverage-articles/", status="A"))
    rows = data(report)
    for key in ("document_id", "document_version", "document_display_id", "title"):
        if rows and key not in rows[0]:
            raise ParseError(f"{report.url}: report rows have no {key!r}; the API's shape has changed")
    picked = [r for r in rows
              if TITLE.search(r.get("title") or "") or r.get("document_display_id") in PINNED_ARTICLES]
    articles = []
    for n, row in enumerate(picked, 1):
        url = api_url("/v1/data/article/hcpc-code", articleid=str(row["document_id"]),
                      ver=str(row["document_version"]))
        articles.append((row, fetcher.get(url, headers=auth)))
        if tick:
            tick(1, len(picked))
    return {"report": report, "articles": articles}


def payers_for(contractor: str) -> list[str]:
    return [p for name, ids in CONTRACTOR_PAYERS if contractor.startswith(name) for p in ids]


def parse(spec: SourceSpec, fetched: dict) -> ScrapeResult:
    result = ScrapeResult()
    noc = set(NOC_CODES)
    for row, got in fetched["articles"]:
        codes = data(got)
        level_ii = [c for c in codes if LEVEL_II.match(str(c.get("hcpc_code_id", "")).strip())]
        noc_here = sorted({c["hcpc_code_id"].strip() for c in level_ii} & noc)
        if not noc_here:
            continue
        display_id = row["document_display_id"]
        contractor_lines = (row.get("contractor_name_type") or "").splitlines()
        contractor = contractor_lines[0].strip() if contractor_lines else ""
        retired = parse_date(row.get("retirement_date"))
        result.coverage_articles.append({
            "id": display_id,
            "article_id": int(row["document_id"]),
            "version": int(row["document_version"]),
            "title": (row.get("title") or "").strip(),
            "contractor": contractor,
            "contract_type": " ".join(line.strip() for line in contractor_lines[1:]).strip("() ") or None,
            "payer_ids": payers_for(contractor),
            "effective_date": parse_date(row.get("effective_date")),
            "updated_on": parse_date(row.get("updated_on")),
            "retirement_date": retired,
            "url": row.get("url"),
            "noc_codes": noc_here,
            "retrieved": got.retrieved,
            "sha256": got.sha256,
            "fixture": got.fixture,
        })
        seen = set()
        for c in level_ii:
            code = c["hcpc_code_id"].strip()
            group = int(c.get("hcpc_code_group") or 0)
            if (code, group) in seen:
                continue
            seen.add((code, group))
            result.coverage_article_codes.append({
                "article_id": display_id,
                "code": code,
                "group_num": group,
                "description": (c.get("long_description") or c.get("short_description") or "").strip() or None,
                "is_noc": code in noc,
            })
    if fetched["articles"] and not result.coverage_articles:
        result.warnings.append("none of the drug articles read lists a NOC code")
    return result
