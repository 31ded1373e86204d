"""Humana medical coverage policy search results (a table: Effective Date | Policy Name | Reviewed Date)."""
from __future__ import annotations

from scrapers.html import clean, parse_date, soup
from scrapers.sources import _index

fetch = _index.fetch


def parse(spec, fetched):
    docs = []
    for got in fetched:
        page = soup(got.text)
        for row in _index.table_rows(page, ("effective date", "policy name", "reviewed date"), got.url):
            link = row["policy name"].find("a", href=True)
            if link is None:
                continue
            docs.append(_index.document(
                spec, got, title=clean(link.get_text(" ")), href=link["href"], number=None,
                doc_date=parse_date(row["reviewed date"].get_text(" ")),
                effective_date=parse_date(row["effective date"].get_text(" "))))
    return _index.collect(spec, docs)
