"""Build steps beyond the core tables, in the order they run.

STEPS run on the new database before it is renamed into place: step(db, kb, out_path).
AFTER_STEPS run once the new database is in place: step(out_path, kb) (the search index).
A step that raises fails the build; a STEPS failure leaves the previous database untouched.
"""
from db import changes, cms_tables, drug_tables, scraped_tables, search_index

STEPS: list = [cms_tables.load_cms_tables, drug_tables.match_crosswalk, scraped_tables.load_scraped_tables, changes.record_changes]
AFTER_STEPS: list = [search_index.build_search_index]
