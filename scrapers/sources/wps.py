"""WPS Part B publications (legacy .shtml pages: the article is div#content)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div#content",),
    titles=("div#content h1", "h1"),
    date_labels=("Last Updated", "Updated", "Published"),
)
