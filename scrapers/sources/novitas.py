"""Novitas pages (Oracle WebCenter pagebyid?contentId=: the article is a content presenter)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div.wcm-content-presenter",),
    titles=("div.wcm-content-presenter h1", "h1"),
    date_labels=("Last Updated", "Updated", "Published"),
)
