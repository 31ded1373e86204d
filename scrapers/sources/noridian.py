"""Noridian JE Part B pages (Liferay: the article is a journal-content-article portlet)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div.journal-content-article",),
    titles=(".portlet-title-text", "h1"),
    date_labels=("Last Updated", "Last Modified", "Published"),
)
