"""Load the CMS reference files shipped in policies/reference/cms/ into the database."""


def load_cms_tables(db, kb, out_path) -> None:
    """Placeholder until the CMS ingesters land."""
