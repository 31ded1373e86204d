"""Cigna coverage-policy update listings (a static table: Policies | Status | Details)."""
from __future__ import annotations

import re

from scrapers.html import clean, labelled_date, parse_date, soup
from scrapers.sources import _index

NUMBER = re.compile(r"/(?:mm|ip|cpg|ph)_(\d{4})_", re.I)
TITLE_NUMBER = re.compile(r"\(([A-Z]{0,3}\d{2,4})\)\s*$")
fetch = _index.fetch


def parse(spec, fetched):
    docs = []
    for got in fetched:
        page = soup(got.text)
        for row in _index.table_rows(page, ("policies", "status", "details"), got.url):
            link = row["policies"].find("a", href=True)
            if link is None:
                continue
            details = clean(row["details"].get_text(" "))
            title = clean(link.get_text(" "))
            number = NUMBER.search(link["href"]) or TITLE_NUMBER.search(title)
            docs.append(_index.document(
                spec, got, title=title, href=link["href"],
                number=number.group(1) if number else None,
                doc_date=labelled_date(details, "Published", "Posted") or parse_date(details),
                effective_date=labelled_date(details, "Effective"),
                status=clean(row["status"].get_text(" ")) or None))
    return _index.collect(spec, docs)
