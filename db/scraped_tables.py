"""Load what scrapers wrote under policies/scraped/ (documents, articles, fetch log)."""


def load_scraped_tables(db, kb, out_path) -> None:
    """Placeholder until the scrapers land."""
