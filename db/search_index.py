"""Build the Whoosh search index next to the database."""


def build_search_index(db_path, kb) -> None:
    """Placeholder until smart search lands."""
