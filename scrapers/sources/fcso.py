"""First Coast pages (a header of Last Modified / Location / Business fields above the article)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div.article-body",),
    titles=("h1.article-title", "h1"),
    date_labels=("Last Modified",),
)
