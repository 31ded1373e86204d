"""CMS Coverage API: the weekly "what's new" report of local coverage documents.

Without dates the API answers for its latest weekly update period. Each LCD or article listed
becomes a document (number A#####/L#####, updated-on date, effective date, MCD URL), flagged
like the commercial index entries when its title is about unlisted drugs, NDCs or wastage.
"""
from __future__ import annotations

from scrapers.fetch import Fetcher
from scrapers.html import parse_date
from scrapers.registry import ScrapeResult, SourceSpec, api_url
from scrapers.sources import _index
from scrapers.sources.coverage_api import data, payers_for


def fetch(spec: SourceSpec, fetcher: Fetcher, tick=None):
    got = fetcher.get(api_url("/v1/reports/whats-new/local/"))
    if tick:
        tick(1, 1)
    return [got]


def parse(spec: SourceSpec, fetched) -> ScrapeResult:
    docs = []
    for got in fetched:
        for row in data(got):
            if not row.get("url") or not row.get("title"):
                continue
            contractor = ((row.get("contractor_name_type") or "").splitlines() or [""])[0].strip()
            doc = _index.document(
                spec, got, title=row["title"].strip(), href=row["url"],
                number=row.get("document_display_id"),
                doc_date=parse_date(row.get("updated_on")),
                effective_date=parse_date(row.get("effective_date")),
                status=row.get("document_type"))
            doc["publisher"] = contractor or spec.publisher
            payers = payers_for(contractor)
            doc["payer_id"] = payers[0] if len(payers) == 1 else None
            docs.append(doc)
    return _index.collect(spec, docs)
