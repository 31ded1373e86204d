"""Build steps beyond the core tables, in the order they run.

STEPS run on the new database before it is renamed into place: step(db, kb, out_path).
FILE_STEPS run on the finished temporary file, still before the rename: step(tmp_path, kb, out_path)
(the search index, filed under the build id the database carries, beside out_path).
A step that raises fails the build and leaves the previous database and its index untouched.
"""
from db import changes, cms_tables, drug_tables, scraped_tables, search_index

STEPS: list = [cms_tables.load_cms_tables, drug_tables.match_crosswalk, scraped_tables.load_scraped_tables, changes.record_changes]
FILE_STEPS: list = [lambda tmp, kb, out: search_index.build_search_index(tmp, kb, serves=out)]
