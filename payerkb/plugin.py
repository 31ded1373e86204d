"""The payerkb Datasette plugin: collects the routes and template variables of payerkb's pages.

Each feature keeps its own module under payerkb/web/ exposing ROUTES, a list of
(regex, view) pairs; this module hands them all to Datasette.
"""
import sqlite3

from datasette import hookimpl

from payerkb.web import FEATURE_MODULES
from payerkb.web import security


@hookimpl
def register_routes():
    routes = []
    for module in FEATURE_MODULES:
        routes.extend(getattr(module, "ROUTES", []))
    return routes


@hookimpl
def extra_template_vars(datasette):
    return {"payerkb_links": [
        (label, path) for module in FEATURE_MODULES for label, path in getattr(module, "NAV_LINKS", [])
    ]}


@hookimpl
def asgi_wrapper(datasette):
    """Safe headers (Content-Security-Policy ...) and no 500 on a POST (payerkb/web/security.py)."""
    return security.middleware(datasette)


@hookimpl
def skip_csrf(datasette, scope):
    """POST /-/check is a read-only computation called by other programs: no CSRF token needed."""
    return scope["type"] == "http" and scope["path"] in ("/-/check", "/-/check.json")


# One SQL call must not be able to take the server's memory: SQLite refuses a string or blob past
# this length (randomblob(1e9), zeroblob, printf('%.*c', ...), replace() growth, group_concat) at
# once with "string or blob too big", which Datasette shows as a 400 error.
MAX_VALUE_BYTES = 10 * 2**20
MAX_SQL_BYTES = 100 * 1024


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
