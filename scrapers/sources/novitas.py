"""Novitas pages (Oracle WebCenter pagebyid?contentId=: the article is a content presenter)."""
from scrapers.sources import _mac

CONTAINERS = ("div.wcm-content-presenter",)
TITLES = ("div.wcm-content-presenter h1", "h1")
DATE_LABELS = ("Last Updated", "Updated", "Published")


def read_page(html: str, url: str) -> _mac.PageContent:
    return _mac.read_page(html, url, containers=CONTAINERS, titles=TITLES, date_labels=DATE_LABELS)


def fetch(spec, fetcher, tick=None):
    return _mac.fetch(spec, fetcher, tick)


def parse(spec, fetched):
    return _mac.parse(spec, fetched, read_page)
