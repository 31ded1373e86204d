"""payerkb's defaults, in one place: the paths the commands start from and the Datasette settings
every payerkb server runs with (`payerkb serve`, `payerkb deploy publish`, the test servers).

Imports nothing of payerkb's: every command module may read it without pulling in another command.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DEFAULT_DB = Path("db/payerkb.db")
DEFAULT_POLICIES = Path("policies")
DEFAULT_METADATA = Path("metadata.yml")

# `datasette serve --setting NAME VALUE` for every payerkb server: time and row limits, no facet
# suggestions (slow on the wide views), a few SQL threads, 100 rows a page.
SERVE_SETTINGS = {
    "sql_time_limit_ms": 3000,
    "max_returned_rows": 2000,
    "suggest_facets": "off",
    "num_sql_threads": 3,
    "default_page_size": 100,
}


# Smart search runs in this many worker processes beside the server (0: in the server's own
# threads). Whoosh and the ranking are Python: in a worker they use another core instead of
# holding the server's GIL. `payerkb serve` sets it for the Datasette it starts.
SEARCH_WORKERS_ENV = "PAYERKB_SEARCH_WORKERS"


def search_workers_for_serve() -> str:
    """The search worker count `payerkb serve` hands its Datasette: one where there are cores to spare."""
    return os.environ.get(SEARCH_WORKERS_ENV) or ("1" if (os.cpu_count() or 1) > 1 else "0")


def datasette_executable() -> str:
    """The `datasette` of this Python's environment (the venv's), else whichever is on PATH."""
    return shutil.which("datasette", path=os.path.dirname(sys.executable)) or "datasette"


def inspect_path(db: Path) -> Path:
    """The inspect file (table counts and hash) `payerkb serve` starts from when it is fresh."""
    return db.with_suffix(".inspect.json")
