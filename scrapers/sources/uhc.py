"""UnitedHealthcare policy index pages (AEM lists: one <li> per policy, a PDF link and its dates)."""
from __future__ import annotations

import re

from scrapers.html import ParseError, clean, labelled_date, soup
from scrapers.sources import _index

NUMBER = re.compile(r"Policy (?:Number|No\.?)\s*:?\s*([A-Z0-9][A-Z0-9.-]{2,20})", re.I)
fetch = _index.fetch


def parse(spec, fetched):
    docs = []
    for got in fetched:
        doc = soup(got.text)
        lists = doc.select("div.policy-list")
        if not lists:
            raise ParseError(f"{got.url}: div.policy-list not found; the page's structure has changed")
        for container in lists:
            for item in container.select("li"):
                link = item.find("a", href=True)
                if link is None:
                    continue
                text = clean(item.get_text(" "))
                number = NUMBER.search(text)
                docs.append(_index.document(
                    spec, got, title=clean(link.get_text(" ")), href=link["href"],
                    number=number.group(1) if number else None,
                    doc_date=labelled_date(text, "Last Published", "Last Modified"),
                    effective_date=labelled_date(text, "Effective Date", "Effective")))
    return _index.collect(spec, docs)
