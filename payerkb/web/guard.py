"""payerkb's pages behave like Datasette's own (issue 18): the same permissions, its own database
only, and Datasette's home page left alone on an instance that does not serve payerkb.

Every route in payerkb/web/*.ROUTES is registered through `guarded()` (payerkb/plugin.py), which
before the view runs:

1. finds the payerkb database (`find_database`): the one named by the plugin configuration
   `plugins: payerkb: database: NAME`, else the database called payerkb, else the first served
   database holding the tables payerkb is built of (payers, rules, rule_sources, sources). Without
   one, `/` (and `/.json`, which is Datasette's anyway) is Datasette's own home page and every other
   payerkb route answers Datasette's 404 "no payerkb database is served here";
2. checks, for every table the route shows data from (ROUTE_TABLES, the one place that says which),
   the same cascade Datasette 0.65 checks before showing that table: view-table, then
   view-database, then view-instance (`datasette.ensure_permissions`), plus execute-sql where a
   route runs SQL the visitor wrote (none does today); on Datasette 1.0, the view-table check its
   own table pages make (`datasette.allowed`). A denial raises datasette.Forbidden, so
   Datasette renders its own 403 page and the `forbidden` plugin hook (a login redirect, say) runs
   as it does for Datasette's pages;
3. answers HEAD with the page's headers and no body, and OPTIONS (which is not a CORS preflight:
   those are answered by payerkb/web/security.py) with 405, as Datasette's own views do.
"""
from __future__ import annotations

import sqlite3
import weakref

from datasette.utils import async_call_with_supported_arguments
from datasette.utils.asgi import Forbidden, NotFound, Response

import payerkb.web.compat as compat
from payerkb.web.security import POST_PATHS

DEFAULT_NAME = "payerkb"
# A database is payerkb's when it holds all of these (db/build.py always writes them).
REQUIRED_TABLES = frozenset({"payers", "rules", "rule_sources", "sources"})
NO_DATABASE = "no payerkb database is served here"

# The tables each route shows data from: a visitor who may not view one of them gets a 403 for
# the whole page (Datasette's rule for its own table pages). Tables the served database does not
# have (older builds have no drug tables) are skipped. tests/test_citizen_permissions.py checks,
# with an SQLite authorizer, that no route reads a table missing here.
_RULES = ("rules", "rule_codes", "rule_sources", "sources")
_DRUG_RULES = ("drugs", "drug_rules", "drug_rule_codes", "drug_rule_sources")
_DRUGS = (*_DRUG_RULES, "drug_sources", "drug_ndcs")
_HOME = ("payers", "payer_states", "rules", "sources", "codes", "changes")
_CHECK = ("payers", "payer_states", *_RULES, "codes", "opps_status_indicators", "claim_fields",
          "modifiers", "denial_codes", "cms_files", "ndc_hcpcs_crosswalk", "noc_ndc_crosswalk",
          "noc_pricing", "asp_payment_limits", "hcpcs_codes", "hcpcs_noc_codes", *_DRUGS)
# The search index (db/search_index.py) holds rules and drug rules with their payer, places, codes
# and sources.
_SEARCH = ("payers", "payer_states", *_RULES, *_DRUG_RULES)

ROUTE_TABLES: dict[str, tuple[str, ...]] = {
    r"^/$": _HOME,
    r"^/-/home(?P<format>\.json)$": _HOME,
    r"^/-/payers(?P<format>\.json)?$": ("payers", "payer_states", "rules"),
    r"^/-/payers/(?P<payer_id>[^/]+?)(?P<format>\.json)?$": ("payers", *_RULES, "codes", "claim_fields", *_DRUG_RULES),
    r"^/-/codes(?P<format>\.json)?$": ("codes",),
    r"^/-/codes/(?P<code>[^/]+?)(?P<format>\.json)?$": (
        "codes", "opps_status_indicators", "claim_fields", "payers", "payer_states", *_RULES, *_DRUG_RULES),
    r"^/-/compare(?P<format>\.json)?$": ("payers", *_RULES, "codes", "claim_fields", "drug_rules", "drug_rule_codes"),
    r"^/-/matrix(?P<format>\.json|\.csv)?$": ("payers", "payer_states", "rules", "rule_codes", "codes", "drug_rules",
                                               "drug_rule_codes"),
    r"^/-/changes(?P<format>\.json|\.atom)?$": ("changes", "payers", "rules", "sources", "payerkb_build"),
    r"^/-/search\.json$": _SEARCH,
    r"^/-/search$": _SEARCH,
    r"^/-/check(?P<format>\.json)?$": _CHECK,
    r"^/-/check/x12$": _CHECK,
    r"^/-/payers/(?P<payer_id>[^/]+?)/answer\.json$": _CHECK,  # payerkb/web/answer.py: the check's selection
    r"^/-/drugs(?P<format>\.json)?$": ("drugs", "drug_rules", "drug_rule_codes"),
    r"^/-/drugs/(?P<drug_id>[^/]+?)(?P<format>\.json)?$": (*_DRUGS, "sources", "payers"),
}
# Routes that run SQL written by the visitor, and so also need execute-sql (as /<db>?sql= does).
ROUTE_RUNS_SQL: set[str] = set()
EVERY_TABLE = None  # a route missing from ROUTE_TABLES needs view-table on every table


# -- the payerkb database -------------------------------------------------------------------

_holds_tables: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # immutable Database -> bool
_last_found: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # Datasette -> database name


def configured_name(datasette) -> str | None:
    config = datasette.plugin_config("payerkb") or {}
    name = config.get("database") if isinstance(config, dict) else None
    return str(name) if name else None


async def _is_payerkb(db) -> bool:
    known = _holds_tables.get(db)
    if known is not None:
        return known
    try:
        names = set(await db.table_names())
    except Exception:  # an unreadable or broken file is not payerkb's
        names = set()
    found = REQUIRED_TABLES <= names
    if not db.is_mutable:  # an immutable file's tables cannot change while it is served
        _holds_tables[db] = found
    return found


async def find_database(datasette):
    """The Database payerkb serves from, or None when this Datasette serves no payerkb database."""
    name = configured_name(datasette)
    if name is not None:  # configured, and it must be a payerkb database
        db = datasette.databases.get(name)
        if db is not None and not await _is_payerkb(db):
            db = None
    else:
        db = None
        candidates = sorted(
            (n for n in datasette.databases if n != "_internal"), key=lambda n: n != DEFAULT_NAME)
        for candidate in candidates:
            if await _is_payerkb(datasette.databases[candidate]):
                db = datasette.databases[candidate]
                break
    if db is None:
        _last_found.pop(datasette, None)
    else:
        _last_found[datasette] = db.name
    return db


def is_payerkb_connection(conn, database: str, datasette) -> bool:
    """Is this (new) connection to payerkb's database? For prepare_connection, which is synchronous:
    the configured name, else the tables the connection itself holds."""
    name = configured_name(datasette)
    if name is not None:
        return database == name
    if database == "_internal":
        return False
    try:
        names = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.Error:
        return False
    return REQUIRED_TABLES <= names


def served_database(datasette):
    """The payerkb database found for this Datasette by the guard that runs before every payerkb
    view (a synchronous spelling of find_database for code that runs inside a view). LookupError
    when there is none."""
    name = _last_found.get(datasette)
    if name is None or name not in datasette.databases:
        raise LookupError(NO_DATABASE)
    return datasette.databases[name]


# -- permissions ------------------------------------------------------------------------------

_table_lists: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


async def _tables_of(db) -> set[str]:
    known = _table_lists.get(db)
    if known is not None:
        return known
    names = set(await db.table_names()) | set(await db.view_names())
    if not db.is_mutable:
        _table_lists[db] = names
    return names


async def tables_shown(db, route: str) -> list[str]:
    """The tables of db that the route shows data from, in a stable order."""
    present = await _tables_of(db)
    wanted = ROUTE_TABLES.get(route, EVERY_TABLE)
    if wanted is EVERY_TABLE:
        return sorted(present)
    return [t for t in dict.fromkeys(wanted) if t in present]


# Datasette 0.65 deep-copies its metadata for every view-table question (~1 ms with payerkb's
# metadata), and a page shows up to two dozen tables. When no metadata source has an `allow` block
# on any table and no plugin but Datasette's own answers permission questions, every view-table
# answer is None (Datasette's default hook returns None for a table without an allow block), so
# only view-database and view-instance, asked once, decide: the same answer, at once. Otherwise each
# table is asked. Permission answers are never kept between requests: metadata and plugins may
# change them at any time.
def _only_datasettes_permission_hook() -> bool:
    from datasette.plugins import pm

    return all(getattr(impl.plugin, "__name__", None) == "datasette.default_permissions"
               for impl in pm.hook.permission_allowed.get_hookimpls())


def _has_table_allow(node) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "tables" and isinstance(value, dict) and any(
                    not isinstance(config, dict) or "allow" in config for config in value.values()):
                return True
            if _has_table_allow(value):
                return True
    elif isinstance(node, (list, tuple)):
        return any(_has_table_allow(v) for v in node)
    return False


def _no_table_decides(datasette, database: str) -> bool:
    try:
        return _only_datasettes_permission_hook() and not any(
            _has_table_allow(source) for source in datasette._metadata_sources("tables", database, None))
    except Exception:  # another Datasette's internals: ask every table
        return False


async def ensure_allowed(datasette, actor, db, route: str) -> None:
    """Raise Forbidden unless `actor` may see every table the route shows (see ensure_tables_allowed)."""
    if compat.resource_permissions(datasette):
        return await ensure_resources_allowed(datasette, actor, db, route)
    await ensure_tables_allowed(datasette, actor, db, route, ask_tables=not _no_table_decides(datasette, db.name))


async def ensure_resources_allowed(datasette, actor, db, route: str) -> None:
    """Datasette 1.0's spelling of ensure_tables_allowed: the check its own table page makes
    (view-table of each table, which takes the database and instance rules into account), or
    view-database for a route that shows no table; execute-sql where the route runs SQL."""
    from datasette.resources import DatabaseResource, TableResource

    database = db.name
    tables = await tables_shown(db, route)
    if not tables and not await datasette.allowed(
            action="view-database", resource=DatabaseResource(database), actor=actor):
        raise Forbidden(_denied("view-database"))
    for table in tables:
        if not await datasette.allowed(action="view-table", resource=TableResource(database, table), actor=actor):
            raise Forbidden(_denied("view-table"))
    if route in ROUTE_RUNS_SQL:
        await datasette.ensure_permission(action="execute-sql", resource=DatabaseResource(database), actor=actor)


async def ensure_tables_allowed(datasette, actor, db, route: str, ask_tables: bool = True) -> None:
    """Raise Forbidden unless `actor` may see every table the route shows, and run SQL when the
    route does. For each table this is Datasette's own cascade (datasette.ensure_permissions with
    view-table, view-database, view-instance: the first answer that is not None decides); the
    database and instance steps are the same for every table, so they are asked once."""
    database = db.name
    above: list = []  # the (allowed, action) of the view-database / view-instance steps, once asked

    async def database_or_instance() -> tuple[bool, str | None]:
        if not above:
            for action, resource in (("view-database", database), ("view-instance", None)):
                ok = await datasette.permission_allowed(actor, action, resource, default=None)
                if ok is not None:
                    above.append((bool(ok), action))
                    break
            else:
                above.append((True, None))
        return above[0]

    tables = await tables_shown(db, route)
    if not tables:
        allowed, action = await database_or_instance()
        if not allowed:
            raise Forbidden(_denied(action))
    for table in tables:
        ok = None
        if ask_tables:
            ok = await datasette.permission_allowed(actor, "view-table", (database, table), default=None)
        if ok is None:
            allowed, action = await database_or_instance()
        else:
            allowed, action = bool(ok), "view-table"
        if not allowed:
            raise Forbidden(_denied(action))
    if route in ROUTE_RUNS_SQL:
        await datasette.ensure_permissions(actor, [("execute-sql", database)])


def _denied(action: str | None) -> str:
    what = {"view-instance": "this instance", "view-database": "this database"}.get(
        action or "", "the data this page shows")
    return f"You do not have permission to view {what}"


# -- the wrapper --------------------------------------------------------------------------------

def _datasette_home():
    from datasette.views.index import IndexView
    return IndexView


def guarded(route: str, view):
    """`view` (a payerkb route's view) behind the database lookup and the permission checks."""

    async def guarded_view(request, datasette, scope, receive, send):
        db = await find_database(datasette)
        if db is None:
            if route == r"^/$":  # not a payerkb instance: / is Datasette's home page
                request.scope = dict(request.scope, url_route={"kwargs": {"format": None}})
                return await _datasette_home().as_view(datasette)(request, send)
            raise NotFound(NO_DATABASE)
        if request.method == "OPTIONS":  # as Datasette's BaseView.options
            return Response.text("Method not allowed", status=405)
        takes_post = request.path in POST_PATHS
        if request.method not in ("GET", "HEAD") and not (request.method == "POST" and takes_post):
            # security.py refuses these first; this holds even if another plugin's route overlaps
            return Response.json({"ok": False, "status": 405, "error": f"{request.method} is not answered here"},
                                 status=405, headers={"Allow": "GET, HEAD, POST" if takes_post else "GET, HEAD"})
        await ensure_allowed(datasette, request.actor, db, route)
        response = await async_call_with_supported_arguments(
            view, scope=request.scope, receive=receive, send=send, request=request, datasette=datasette)
        if request.method == "HEAD" and isinstance(response, Response):
            response.body = b""
        return response

    guarded_view.__name__ = getattr(view, "__name__", "view")
    guarded_view.__doc__ = view.__doc__
    guarded_view.payerkb_route = route
    guarded_view.payerkb_view = view
    return guarded_view
