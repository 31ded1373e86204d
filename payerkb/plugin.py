"""The payerkb Datasette plugin: collects the routes and template variables of payerkb's pages.

Each feature keeps its own module under payerkb/web/ exposing ROUTES, a list of
(regex, view) pairs; this module hands them all to Datasette.

Importing the `payerkb` package imports this module (the package is the plugin entry point), so
it imports nothing heavy itself: the web modules (and with them Datasette, Whoosh and numpy) load
when Datasette first calls a hook, not when `payerkb --help` or `payerkb validate` starts.
"""
import sqlite3

import pluggy

hookimpl = pluggy.HookimplMarker("datasette")  # datasette.hookimpl, without importing Datasette


def _web():
    import payerkb.web as web
    import payerkb.web.guard as guard
    import payerkb.web.security as security

    return web.FEATURE_MODULES, guard, security


@hookimpl
def register_routes():
    """Every feature's routes, each behind payerkb/web/guard.py: the payerkb database must be served
    and the visitor must be allowed to see every table the route shows (else Datasette's 404/403)."""
    modules, guard, _ = _web()
    routes = []
    for module in modules:
        routes.extend((regex, guard.guarded(regex, view)) for regex, view in getattr(module, "ROUTES", []))
    return routes


@hookimpl
def extra_template_vars(datasette):
    modules, _, _ = _web()
    return {"payerkb_links": [
        (label, path) for module in modules for label, path in getattr(module, "NAV_LINKS", [])
    ]}


@hookimpl
def asgi_wrapper(datasette):
    """Safe headers (Content-Security-Policy ...) and no 500 on a POST (payerkb/web/security.py)."""
    return _web()[2].middleware(datasette)


# Scripts and stylesheets other plugins add to Datasette's pages are theirs, so the
# Content-Security-Policy of that response allows them (payerkb/web/security.py). These wrap the
# other implementations' results; they add nothing of payerkb's own.
@hookimpl(wrapper=True)
def extra_body_script(request):
    results = yield
    return [_web()[2].record_body_script(request, r) for r in results or []]


@hookimpl(wrapper=True)
def extra_js_urls(request):
    results = yield
    return [_web()[2].record_asset_urls(request, r, "scripts_src") for r in results or []]


@hookimpl(wrapper=True)
def extra_css_urls(request):
    results = yield
    return [_web()[2].record_asset_urls(request, r, "styles_src") for r in results or []]


@hookimpl(wrapper=True)
def register_output_renderer(datasette):
    """datasette-atom's .atom renderer, on payerkb's database with links from the configured public
    URL (never the Host header) and a true subtitle on the changes feed (payerkb/web/pages_feed.py)."""
    results = yield
    import payerkb.web.pages_feed as pages_feed

    return pages_feed.wrap_renderers(results)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Compact JSON lists and links to payerkb's payer pages in payerkb's tables (payerkb/web/cells.py)."""
    import payerkb.web.cells as cells

    return cells.render_cell(row, value, column, table, database, datasette)


@hookimpl
def skip_csrf(datasette, scope):
    """POST /-/check is a read-only computation called by other programs: no CSRF token needed."""
    return scope["type"] == "http" and scope["path"] in ("/-/check", "/-/check.json")


# One SQL call must not be able to take the server's memory: SQLite refuses a string or blob past
# this length (randomblob(1e9), zeroblob, printf('%.*c', ...), replace() growth, group_concat) at
# once with "string or blob too big", which Datasette shows as a 400 error. Only on payerkb's own
# database: another database served beside it keeps SQLite's limits (its owner's business).
MAX_VALUE_BYTES = 10 * 2**20
MAX_SQL_BYTES = 100 * 1024


@hookimpl
def prepare_connection(conn, database, datasette):
    if not _web()[1].is_payerkb_connection(conn, database, datasette):
        return
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
