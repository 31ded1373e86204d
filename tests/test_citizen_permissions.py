"""Issue 18: payerkb's pages check the permissions Datasette checks for the data they show.

Every payerkb route is tried with metadata `allow` blocks on the instance, on the payerkb
database and on each table the route reads, anonymously (403, Datasette's own page) and as an
actor the block allows (200). An SQLite authorizer checks that ROUTE_TABLES (payerkb/web/guard.py)
names every table each route really reads.
"""
from __future__ import annotations

import copy
import re
import sqlite3

import pytest
from datasette import hookimpl
from sites import datasette
from datasette.plugins import pm

from payerkb.web import FEATURE_MODULES, guard

ROOT_ONLY = {"id": "root"}


def _routes() -> list[str]:
    return [regex for module in FEATURE_MODULES for regex, _ in getattr(module, "ROUTES", [])]


@pytest.fixture(scope="module")
def kb(built_db, metadata):
    """One Datasette on the built knowledge base; tests swap its metadata (as Datasette's own
    permission tests do) and restore it."""
    ds = datasette([built_db], metadata=copy.deepcopy(metadata))
    original = copy.deepcopy(ds._metadata_local)
    yield ds
    ds._metadata_local = original


@pytest.fixture(scope="module")
def examples(built_db) -> dict[str, list[str]]:
    """Concrete paths for every route (HTML and JSON twins), on ids that exist."""
    conn = sqlite3.connect(built_db)
    payer = conn.execute("select id from payers order by id limit 1").fetchone()[0]
    two = ",".join(r[0] for r in conn.execute("select id from payers order by id limit 2"))
    has_drugs = conn.execute("select 1 from sqlite_master where name = 'drugs'").fetchone()
    drug = (conn.execute("select id from drugs order by id limit 1").fetchone() or ["none"])[0] if has_drugs else "none"
    check = "payer_id=medicare-palmetto-jj&date_of_service=2026-01-15&hcpcs=J3590&units=1"
    paths = {
        r"^/$": ["/"],
        r"^/-/home(?P<format>\.json)$": ["/-/home.json"],
        r"^/-/payers(?P<format>\.json)?$": ["/-/payers", "/-/payers.json"],
        r"^/-/payers/(?P<payer_id>[^/]+?)(?P<format>\.json)?$": [
            f"/-/payers/{payer}", f"/-/payers/{payer}.json", f"/-/payers/{payer}.json?code=J3590"],
        r"^/-/codes(?P<format>\.json)?$": ["/-/codes", "/-/codes.json"],
        r"^/-/codes/(?P<code>[^/]+?)(?P<format>\.json)?$": ["/-/codes/J3590", "/-/codes/J3590.json"],
        r"^/-/compare(?P<format>\.json)?$": ["/-/compare", f"/-/compare?payers={two}", f"/-/compare.json?payers={two}"],
        r"^/-/matrix(?P<format>\.json|\.csv)?$": ["/-/matrix", "/-/matrix.json", "/-/matrix.csv",
                                                 "/-/matrix.json?code=J3590&setting=professional&date=2026-03-01"],
        r"^/-/changes(?P<format>\.json|\.atom)?$": ["/-/changes", "/-/changes.json", "/-/changes.atom"],
        r"^/-/search\.json$": ["/-/search.json?q=invoice"],
        r"^/-/search$": ["/-/search?q=invoice"],
        r"^/-/check(?P<format>\.json)?$": ["/-/check", f"/-/check.json?{check}"],
        r"^/-/check/x12$": ["/-/check/x12"],
        r"^/-/payers/(?P<payer_id>[^/]+?)/answer\.json$": [f"/-/payers/{payer}/answer.json?code=J3590&date=2026-01-15"],
        r"^/-/drugs(?P<format>\.json)?$": ["/-/drugs", "/-/drugs.json"],
        r"^/-/drugs/(?P<drug_id>[^/]+?)(?P<format>\.json)?$": [f"/-/drugs/{drug}", f"/-/drugs/{drug}.json"],
    }
    conn.close()
    return paths


def _actor_cookie(ds, actor_id="root") -> dict:
    return {"ds_actor": ds.sign({"a": {"id": actor_id}}, "actor")}


def _with(ds, base: dict, **changes) -> None:
    md = copy.deepcopy(base)
    md.update(changes)
    ds._metadata_local = md


def _db_block(md: dict, name: str) -> dict:
    return md.setdefault("databases", {}).setdefault(name, {})


async def _status(ds, path, cookies=None) -> int:
    r = await ds.client.get(path, cookies=cookies or {})
    return r.status_code


def test_every_route_is_mapped_to_its_tables():
    missing = [r for r in _routes() if r not in guard.ROUTE_TABLES]
    assert not missing, f"routes with no entry in payerkb/web/guard.py ROUTE_TABLES: {missing}"
    stale = set(guard.ROUTE_TABLES) - set(_routes())
    assert not stale, f"ROUTE_TABLES names routes nobody registers: {stale}"


def test_every_registered_route_is_guarded(kb):
    from payerkb.plugin import register_routes

    for regex, view in register_routes():
        assert getattr(view, "payerkb_route", None) == regex, regex


def test_examples_cover_every_route(examples):
    assert set(examples) == set(_routes())
    for regex, paths in examples.items():
        for path in paths:
            assert re.match(regex, path.split("?")[0]), (regex, path)


@pytest.mark.asyncio
async def test_every_page_answers_without_allow_blocks(kb, examples):
    for paths in examples.values():
        for path in paths:
            assert await _status(kb, path) == 200, path


@pytest.mark.asyncio
@pytest.mark.parametrize("route", _routes())
async def test_instance_allow_block(kb, examples, route):
    base = copy.deepcopy(kb._metadata_local)
    try:
        _with(kb, base, allow=ROOT_ONLY)
        assert await _status(kb, "/payerkb/rules.json") == 403  # Datasette's own answer
        for path in examples[route]:
            r = await kb.client.get(path)
            assert r.status_code == 403, path
            assert "Forbidden" in r.text  # Datasette's 403 page (datasette/templates/error.html)
            assert await _status(kb, path, _actor_cookie(kb)) == 200, path
            assert await _status(kb, path, _actor_cookie(kb, "someone-else")) == 403, path
    finally:
        kb._metadata_local = base


@pytest.mark.asyncio
@pytest.mark.parametrize("route", _routes())
async def test_database_allow_block(kb, examples, route):
    base = copy.deepcopy(kb._metadata_local)
    try:
        md = copy.deepcopy(base)
        _db_block(md, "payerkb")["allow"] = ROOT_ONLY
        kb._metadata_local = md
        assert await _status(kb, "/payerkb") == 403
        for path in examples[route]:
            assert await _status(kb, path) == 403, path
            assert await _status(kb, path, _actor_cookie(kb)) == 200, path
    finally:
        kb._metadata_local = base


@pytest.mark.asyncio
@pytest.mark.parametrize("route", _routes())
async def test_table_allow_blocks(kb, examples, route):
    """Each table the route shows, locked on its own: the page refuses, as the table itself does."""
    base = copy.deepcopy(kb._metadata_local)
    db = kb.get_database("payerkb")
    tables = await guard.tables_shown(db, route)
    assert tables, route
    try:
        for table in tables:
            md = copy.deepcopy(base)
            _db_block(md, "payerkb").setdefault("tables", {}).setdefault(table, {})["allow"] = ROOT_ONLY
            kb._metadata_local = md
            assert await _status(kb, f"/payerkb/{table}.json") == 403, table
            for path in examples[route]:
                assert await _status(kb, path) == 403, (table, path)
            assert await _status(kb, examples[route][-1], _actor_cookie(kb)) == 200, table
    finally:
        kb._metadata_local = base


@pytest.mark.asyncio
async def test_rules_table_locked_hides_rules_from_search_and_payer_pages(kb, examples):
    base = copy.deepcopy(kb._metadata_local)
    try:
        md = copy.deepcopy(base)
        _db_block(md, "payerkb").setdefault("tables", {})["rules"] = {"allow": ROOT_ONLY}
        kb._metadata_local = md
        for path in ["/-/search.json?q=invoice", "/-/search?q=invoice", *examples[r"^/-/payers/(?P<payer_id>[^/]+?)(?P<format>\.json)?$"]]:
            r = await kb.client.get(path)
            assert r.status_code == 403, path
            assert "invoice" not in r.text.lower() or "Forbidden" in r.text
        # a table nobody locked is still Datasette's to show, and the codes list reads only codes
        assert await _status(kb, "/payerkb/codes.json") == 200
        assert await _status(kb, "/-/codes.json") == 200
        allowed = await kb.client.get("/-/search.json?q=invoice", cookies=_actor_cookie(kb))
        assert allowed.status_code == 200 and allowed.json()["hits"]
    finally:
        kb._metadata_local = base


@pytest.mark.asyncio
async def test_table_allow_that_lets_the_actor_in_wins_as_in_datasette(kb):
    """Datasette's cascade: a table's own allow decides before the instance's. payerkb follows it."""
    base = copy.deepcopy(kb._metadata_local)
    try:
        md = copy.deepcopy(base)
        md["allow"] = ROOT_ONLY
        _db_block(md, "payerkb").setdefault("tables", {})["codes"] = {"allow": True}
        kb._metadata_local = md
        assert await _status(kb, "/payerkb/codes.json") == 200
        assert await _status(kb, "/-/codes.json") == 200
        assert await _status(kb, "/-/codes/J3590.json") == 403
    finally:
        kb._metadata_local = base


@pytest.mark.asyncio
async def test_forbidden_hook_runs_for_payerkb_pages(kb):
    class LoginRedirect:
        __name__ = "login_redirect"

        @hookimpl
        def forbidden(self, datasette, request, message):
            from datasette.utils.asgi import Response
            return Response.redirect("/-/login?next=" + request.path + "&why=" + message.replace(" ", "+"))

    plugin = LoginRedirect()
    pm.register(plugin, name="test_citizen_login_redirect")
    base = copy.deepcopy(kb._metadata_local)
    try:
        _with(kb, base, allow=ROOT_ONLY)
        for path in ["/-/matrix", "/-/home.json", "/payerkb/rules"]:
            r = await kb.client.get(path)
            assert r.status_code == 302, path
            assert r.headers["location"].startswith("/-/login?next=" + path)
    finally:
        kb._metadata_local = base
        pm.unregister(plugin)


@pytest.mark.asyncio
async def test_post_check_needs_permission(kb):
    base = copy.deepcopy(kb._metadata_local)
    line = {"payer_id": "medicare-palmetto-jj", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1}
    try:
        _with(kb, base, allow=ROOT_ONLY)
        assert (await kb.client.post("/-/check", json=line)).status_code == 403
        r = await kb.client.post("/-/check", json=line, cookies=_actor_cookie(kb))
        assert r.status_code == 200 and "findings" in r.json()
    finally:
        kb._metadata_local = base


# -- the map is complete: what each route reads, seen by SQLite itself ---------------------------

IGNORED = re.compile(r"^(sqlite_master|sqlite_schema|sqlite_stat\d|json_each|json_tree|pragma_.*|.*_fts(_\w+)?)$")


class ReadRecorder:
    __name__ = "test_citizen_read_recorder"

    def __init__(self):
        self.read: set[str] = set()

    @hookimpl
    def prepare_connection(self, conn, database):
        if database != "payerkb":
            return

        def authorizer(action, arg1, arg2, dbname, trigger):
            if action == sqlite3.SQLITE_READ and arg1:
                self.read.add(arg1)
            return sqlite3.SQLITE_OK

        conn.set_authorizer(authorizer)


@pytest.mark.asyncio
async def test_routes_read_only_the_tables_they_are_mapped_to(built_db, metadata, examples):
    recorder = ReadRecorder()
    pm.register(recorder, name=recorder.__name__)
    try:
        ds = datasette([built_db], metadata=copy.deepcopy(metadata))
        await ds.client.get("/-/versions.json")  # start-up: Datasette counts every immutable table
        db = ds.get_database("payerkb")
        for route, paths in examples.items():
            mapped = set(guard.ROUTE_TABLES[route])
            for path in paths:
                recorder.read.clear()
                assert await _status(ds, path) == 200, path
                unmapped = {t for t in recorder.read if not IGNORED.match(t)} - mapped
                assert not unmapped, f"{path} reads {sorted(unmapped)}: add them to ROUTE_TABLES[{route!r}]"
        assert await guard.tables_shown(db, "^/-/not-mapped$") == sorted(await guard._tables_of(db))
    finally:
        pm.unregister(recorder)


@pytest.mark.asyncio
async def test_a_plugins_permission_hook_is_asked_for_each_table(kb):
    """No allow block anywhere, but a plugin answers view-table itself: payerkb asks it per table."""
    class NoSources:
        __name__ = "test_citizen_no_sources"

        @hookimpl
        def permission_allowed(self, actor, action, resource):
            if action == "view-table" and resource and resource[1] == "sources" and not actor:
                return False

    plugin = NoSources()
    pm.register(plugin, name=plugin.__name__)
    try:
        assert await _status(kb, "/payerkb/sources.json") == 403
        assert await _status(kb, "/-/home.json") == 403  # the home page counts sources
        assert await _status(kb, "/-/codes.json") == 200
        assert await _status(kb, "/-/home.json", _actor_cookie(kb)) == 200
    finally:
        pm.unregister(plugin)
    assert await _status(kb, "/-/home.json") == 200
