"""First Coast pages (a header of Last Modified / Location / Business fields above the article)."""
from scrapers.sources import _mac

CONTAINERS = ("div.article-body",)
TITLES = ("h1.article-title", "h1")
DATE_LABELS = ("Last Modified",)


def read_page(html: str, url: str) -> _mac.PageContent:
    return _mac.read_page(html, url, containers=CONTAINERS, titles=TITLES, date_labels=DATE_LABELS)


def fetch(spec, fetcher, tick=None):
    return _mac.fetch(spec, fetcher, tick)


def parse(spec, fetched):
    return _mac.parse(spec, fetched, read_page)
