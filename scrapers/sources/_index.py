"""What the commercial policy-index modules share: fetch index pages, turn entries into documents.

A document is one policy listed on an index page (title, number, dates, URL, HTML or PDF) with
flags for the titles that matter to NOC drug claims: unlisted/unclassified drugs, NDC
requirements, drug wastage. The policy bodies (mostly PDFs) are not read here.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from bs4 import Tag

from scrapers.fetch import Fetched
from scrapers.html import ParseError, clean
from scrapers.registry import ScrapeResult, SourceSpec
from scrapers.sources._mac import fetch, slug  # noqa: F401  (fetch is shared as is)

FLAGS = (
    ("unlisted_drugs", re.compile(r"\bunlisted\b|\bunclassified\b|not otherwise (classified|specified)|\bNOC\b", re.I)),
    ("ndc", re.compile(r"\bNDCs?\b|national drug code", re.I)),
    ("wastage", re.compile(r"\bwast(e|age)\b|\bdiscard\w*|single[- ]dose|\bJW\b|\bJZ\b", re.I)),
)


def flags(title: str) -> list[str]:
    return [name for name, pattern in FLAGS if pattern.search(title)]


def table_rows(container: Tag, headers: tuple[str, ...], url: str) -> list[dict[str, Tag]]:
    """Rows of the first table whose header row has all `headers` (lower case), as {header: cell}."""
    for table in container.find_all("table"):
        rows = table.find_all("tr")
        if not rows:
            continue
        names = [clean(c.get_text(" ")).lower() for c in rows[0].find_all(["th", "td"])]
        if all(h in names for h in headers):
            out = []
            for row in rows[1:]:
                cells = row.find_all(["td", "th"])
                if len(cells) == len(names):
                    out.append(dict(zip(names, cells)))
            return out
    raise ParseError(f"{url}: no table with the columns {', '.join(headers)}; the page's structure has changed")


def document(spec: SourceSpec, got: Fetched, *, title: str, href: str, number: str | None,
             doc_date: str | None, effective_date: str | None = None, status: str | None = None) -> dict:
    url = urljoin(got.url, href)
    found = flags(title)
    return {
        "id": "",  # set by collect(), which makes ids unique
        "scraper": spec.name,
        "payer_id": spec.payer_id,
        "publisher": spec.publisher,
        "title": title[:300],
        "number": number,
        "url": url,
        # Humana's asset URLs end in "...pdf" without a dot
        "format": "pdf" if urlsplit(url).path.lower().endswith("pdf") else "html",
        "doc_date": doc_date,
        "effective_date": effective_date,
        "status": status,
        "flags": found,
        "index_url": got.url,
        "retrieved": got.retrieved,
        "sha256": got.sha256,
        "fixture": got.fixture,
    }


def collect(spec: SourceSpec, docs: list[dict]) -> ScrapeResult:
    result = ScrapeResult()
    seen: set[str] = set()
    for doc in docs:
        base = slug(f"{spec.name}-{doc['number'] or urlsplit(doc['url']).path.rsplit('/', 1)[-1] or doc['title']}")
        ident, n = base, 2
        while ident in seen:
            ident, n = f"{base}-{n}", n + 1
        seen.add(ident)
        doc["id"] = ident
        result.documents.append(doc)
    return result
