"""Palmetto GBA pages (Lotus Notes documents at .nsf/DID/<id>: the article sits in div#docContent)."""
from scrapers.sources import _mac

CONTAINERS = ("div#docContent",)
TITLES = ("div#docTitle h1", "h1")
DATE_LABELS = ("Published", "Last Modified", "Last Updated")


def read_page(html: str, url: str) -> _mac.PageContent:
    return _mac.read_page(html, url, containers=CONTAINERS, titles=TITLES, date_labels=DATE_LABELS)


def fetch(spec, fetcher, tick=None):
    return _mac.fetch(spec, fetcher, tick)


def parse(spec, fetched):
    return _mac.parse(spec, fetched, read_page)
