"""WPS Part B publications (legacy .shtml pages: the article is div#content)."""
from scrapers.sources import _mac

CONTAINERS = ("div#content",)
TITLES = ("div#content h1", "h1")
DATE_LABELS = ("Last Updated", "Updated", "Published")


def read_page(html: str, url: str) -> _mac.PageContent:
    return _mac.read_page(html, url, containers=CONTAINERS, titles=TITLES, date_labels=DATE_LABELS)


def fetch(spec, fetcher, tick=None):
    return _mac.fetch(spec, fetcher, tick)


def parse(spec, fetched):
    return _mac.parse(spec, fetched, read_page)
