"""Palmetto GBA pages (Lotus Notes documents at .nsf/DID/<id>: the article sits in div#docContent)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div#docContent",),
    titles=("div#docTitle h1", "h1"),
    date_labels=("Published", "Last Modified", "Last Updated"),
)
