"""CGS Part B news articles (static HTML: the article is div#mainContent)."""
from scrapers.sources import _mac

read_page, fetch, parse = _mac.site(
    containers=("div#mainContent",),
    titles=("div#mainContent h1", "h1"),
    date_labels=("Posted", "Published", "Last Updated"),
)
