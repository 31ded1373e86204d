"""CGS Part B news articles (static HTML: the article is div#mainContent)."""
from scrapers.sources import _mac

CONTAINERS = ("div#mainContent",)
TITLES = ("div#mainContent h1", "h1")
DATE_LABELS = ("Posted", "Published", "Last Updated")


def read_page(html: str, url: str) -> _mac.PageContent:
    return _mac.read_page(html, url, containers=CONTAINERS, titles=TITLES, date_labels=DATE_LABELS)


def fetch(spec, fetcher, tick=None):
    return _mac.fetch(spec, fetcher, tick)


def parse(spec, fetched):
    return _mac.parse(spec, fetched, read_page)
