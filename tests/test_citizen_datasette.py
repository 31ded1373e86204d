"""Issue 18: with payerkb installed, Datasette's own pages behave exactly as without it.

A "neighbour" test plugin uses Datasette's extension points (a route of its own, actor_from_request,
menu_links, extra_body_script, extra_js_urls / extra_css_urls, messages). The same requests go to
a Datasette with payerkb registered and to a bare one (payerkb's plugins unregistered), serving a
small database of their own, with and without payerkb's database beside it, under several
metadata `allow` blocks and actors. Status, body and headers must agree; the intended differences
are payerkb's security headers, its own routes, `/` on a payerkb instance, the plugin list, and the
405 payerkb answers where Datasette 0.65 would answer 500 (POST to a table ...).
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import json
import re
import sqlite3

import pytest
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils.asgi import Response

import sites

SECRET = "test-citizen-secret"
SECURITY_HEADERS = {"content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                    "cross-origin-opener-policy", "permissions-policy", "access-control-allow-origin"}
NEIGHBOUR_SCRIPT = "window.NEIGHBOUR = {view!r};"


async def hello(request, datasette):
    return Response.json({"method": request.method, "actor": request.actor, "scheme": request.scheme,
                          "url": datasette.absolute_url(request, "/-/hello")})


async def add_message(request, datasette):
    datasette.add_message(request, "Hello from the neighbour", datasette.INFO)
    return Response.redirect("/")


class Neighbour:
    """Another plugin, installed beside payerkb."""

    __name__ = "test_citizen_neighbour"

    @hookimpl
    def register_routes(self):
        return [(r"^/-/hello$", hello), (r"^/-/add-message$", add_message)]

    @hookimpl
    def skip_csrf(self, scope):
        return scope["type"] == "http" and scope["path"] == "/-/hello"

    @hookimpl
    def actor_from_request(self, datasette, request):
        if request.headers.get("authorization") == "Bearer letmein":
            return {"id": "bot"}

    @hookimpl
    def menu_links(self, datasette, actor):
        if actor:
            return [{"href": "/-/hello", "label": "Hello neighbour"}]

    @hookimpl
    def extra_body_script(self, view_name):
        return {"script": NEIGHBOUR_SCRIPT.format(view=view_name or "")}

    @hookimpl
    def extra_js_urls(self):
        return ["https://cdn.neighbour.example/n.js"]

    @hookimpl
    def extra_css_urls(self):
        return [{"url": "https://fonts.neighbour.example/n.css"}]


@pytest.fixture(scope="module", autouse=True)
def neighbour():
    plugin = Neighbour()
    pm.register(plugin, name="test_citizen_neighbour")
    yield plugin
    pm.unregister(plugin)


@contextlib.contextmanager
def without_payerkb():
    """payerkb's plugins out of Datasette's plugin manager for the duration (a bare Datasette)."""
    ours = [(name, plugin) for name, plugin in pm.list_name_plugin()
            if (getattr(plugin, "__name__", "") or "").split(".")[0] == "payerkb"]
    assert ours, "payerkb is not registered as a Datasette plugin"
    for _, plugin in ours:
        pm.unregister(plugin)
    try:
        yield
    finally:
        for name, plugin in ours:
            pm.register(plugin, name=name)


@pytest.fixture(scope="module")
def other_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("neighbour") / "other.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        create table t (id integer primary key, name text);
        insert into t (name) values ('one'), ('two'), ('three');
        create table secret (id integer primary key, word text);
        insert into secret (word) values ('hidden');
        create view v as select name from t;
        create table docs (id integer primary key, body text);
        insert into docs (body) values ('one fish'), ('two fish');
        create virtual table docs_fts using fts5(body, content=docs, content_rowid=id);
        insert into docs_fts (rowid, body) select id, body from docs;
        -- cells payerkb renders in its own database (payer_id, JSON lists): Datasette's here
        create table claims (id integer primary key, payer_id text, codes text);
        insert into claims (payer_id, codes) values ('aetna', '["J3590", "J3490", "J3591", "C9399", "J9999"]');
    """)
    conn.commit()
    conn.close()
    return path


BASE_METADATA = {
    "title": "Neighbour",
    "extra_css_urls": ["https://static.metadata.example/m.css"],
    "extra_js_urls": [{"url": "https://static.metadata.example/m.js", "sri": "sha384-abc"}],
    "databases": {"other": {"queries": {
        "names": {"sql": "select name from t order by id"},
        # looks like payerkb's search results (kind, id, snippet): payerkb must not render it
        "lookalike": {"sql": "select 'rule' as kind, 'x' as id, 'a «b» c' as snippet"},
        # a datasette-atom feed: payerkb's wrapper of the renderer leaves it alone
        "feed": {"sql": "select 'urn:uuid:' || id as atom_id, '2026-01-0' || id || 'T00:00:00Z' as atom_updated, "
                        "name as atom_title, '/other/t/' || id as atom_link from t"},
    }}},
}


def metadata_variants() -> dict[str, dict]:
    """allow blocks for alice (root would also see _internal, whose row counts are timed, so vary)."""
    instance = copy.deepcopy(BASE_METADATA)
    instance["allow"] = {"id": "alice"}
    database = copy.deepcopy(BASE_METADATA)
    database["databases"]["other"]["allow"] = {"id": "alice"}
    table = copy.deepcopy(BASE_METADATA)
    table["databases"]["other"]["tables"] = {"secret": {"allow": {"id": "alice"}}}
    sql = copy.deepcopy(BASE_METADATA)
    sql["allow_sql"] = {"id": "alice"}
    return {"plain": BASE_METADATA, "instance": instance, "database": database, "table": table, "sql": sql}


def make(paths, metadata, settings=None) -> Datasette:
    """other.db mutable; payerkb's database immutable, as `payerkb serve` serves it (so its table
    counts are exact, not subject to Datasette's 10 ms counting limit)."""
    mutable = [str(p) for p in paths if p.name == "other.db"]
    immutable = [str(p) for p in paths if p.name != "other.db"]
    return sites.datasette(immutable, files=mutable, metadata=copy.deepcopy(metadata), settings=settings or {},
                           secret=SECRET)


def actors(ds) -> dict[str, tuple[dict, dict]]:
    """name -> (cookies, headers)"""
    return {
        "anonymous": ({}, {}),
        "root": ({"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}, {}),
        "alice": ({"ds_actor": ds.sign({"a": {"id": "alice"}}, "actor")}, {}),
        "bot": ({}, {"authorization": "Bearer letmein"}),
    }


REQUESTS = [
    ("GET", "/.json"), ("GET", "/other"), ("GET", "/other.json"), ("GET", "/other/t"),
    ("GET", "/other/t.json?_size=1"), ("GET", "/other/t/1"), ("GET", "/other/t/1.json"), ("GET", "/other/v"),
    ("GET", "/other/secret.json"), ("GET", "/other/names"), ("GET", "/other/names.json"),
    ("GET", "/other?sql=select+name+from+t"), ("GET", "/other.json?sql=select+count(*)+from+secret"),
    ("GET", "/-/actor.json"), ("GET", "/-/metadata.json"), ("GET", "/-/databases.json"),
    ("GET", "/-/settings.json"), ("GET", "/-/hello"), ("POST", "/-/hello"), ("PUT", "/-/hello"),
    ("DELETE", "/-/hello"), ("GET", "/no-such-database"), ("GET", "/other/no-such-table"),
    ("HEAD", "/other/t"), ("OPTIONS", "/other/t.json"), ("PUT", "/other/t"), ("GET", "/-/static/app.css"),
    ("GET", "/favicon.ico"), ("GET", "/other/docs?_search=fish"), ("GET", "/other/docs.json?_search=%22"),
    ("GET", "/other/docs?_search=fish%20OR"), ("GET", "/other/lookalike"), ("GET", "/other/lookalike.json"),
    ("GET", "/other/claims"), ("GET", "/other/claims/1"), ("GET", "/other/feed"), ("GET", "/other/feed.atom"),
]
# Datasette's home page: payerkb's own home page replaces it on a payerkb instance only.
HOME_REQUESTS = [("GET", "/"), ("HEAD", "/"), ("OPTIONS", "/"), ("PUT", "/"), ("PATCH", "/"), ("DELETE", "/"),
                 ("POST", "/")]

_VOLATILE = [
    (re.compile(r'name="csrftoken" value="[^"]*"'), 'name="csrftoken" value=""'),
    (re.compile(r'"query_ms": [0-9.e-]+'), '"query_ms": 0'),
    (re.compile(r"(in|took) [0-9.]+ms"), r"\1 0ms"),
    (re.compile(r"ds_csrftoken=[^;]*"), "ds_csrftoken="),
]


def _normal(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _headers(response) -> dict:
    return {k.lower(): _normal(v) for k, v in response.headers.items()
            if k.lower() not in SECURITY_HEADERS | {"content-length", "date", "server"}}


async def _answers(ds, requests, who=("anonymous", "alice", "bot")):
    out = {}
    for name, (cookies, headers) in actors(ds).items():
        if who and name not in who:
            continue
        for method, path in requests:
            r = await ds.client.request(method, path, cookies=cookies, headers=headers)
            out[(name, method, path)] = r
    return out


def _compare(ours, bare):
    problems = []
    for key, theirs in bare.items():
        mine = ours[key]
        method = key[1]
        if mine.status_code == 405 and method not in ("GET", "HEAD", "OPTIONS") and theirs.status_code >= 400:
            continue  # payerkb refuses at once what Datasette refuses too (403 CSRF, 405) or would 500 on
        if mine.status_code != theirs.status_code:
            problems.append(f"{key}: {mine.status_code} with payerkb, {theirs.status_code} without")
            continue
        if _normal(mine.text) != _normal(theirs.text):
            diff = difflib.unified_diff(_normal(theirs.text).splitlines(), _normal(mine.text).splitlines(),
                                        "without payerkb", "with payerkb", n=1, lineterm="")
            problems.append(f"{key}: bodies differ\n" + "\n".join(list(diff)[:20]))
        if _headers(mine) != _headers(theirs):
            problems.append(f"{key}: headers differ {_headers(mine)} != {_headers(theirs)}")
    return problems


@pytest.mark.asyncio
@pytest.mark.parametrize("variant", sorted(metadata_variants()))
@pytest.mark.parametrize("with_kb", [False, True], ids=["alone", "beside-payerkb"])
@pytest.mark.parametrize("https", [False, True], ids=["http", "force_https_urls"])
@pytest.mark.slow
async def test_datasette_pages_unchanged(other_db, built_db, variant, with_kb, https):
    md = metadata_variants()[variant]
    paths = [other_db, built_db] if with_kb else [other_db]
    settings = {"force_https_urls": https}
    requests = REQUESTS + ([] if with_kb else HOME_REQUESTS)
    ours = await _answers(make(paths, md, settings), requests)
    with without_payerkb():
        bare = await _answers(make(paths, md, settings), requests)
    problems = _compare(ours, bare)
    assert not problems, "\n".join(problems)


def _database_names(listing: dict) -> list[str]:
    """The databases /.json lists: its keys in Datasette 0.65, its "databases" list in 1.0."""
    if "databases" in listing and isinstance(listing["databases"], list):
        return [d["name"] for d in listing["databases"]]
    return list(listing)


@pytest.mark.asyncio
async def test_home_page_and_json_are_datasettes_without_payerkb_database(other_db):
    ds = make([other_db], BASE_METADATA)
    home = await ds.client.get("/")
    assert home.status_code == 200
    assert '<body class="index">' in home.text and "other" in home.text
    listing = (await ds.client.get("/.json")).json()
    assert _database_names(listing) == ["other"]
    head = await ds.client.request("HEAD", "/")
    assert head.status_code == 200 and head.text == ""
    with without_payerkb():  # OPTIONS: Datasette's own answer (405 in 0.65, 200 in 1.0)
        bare = (await make([other_db], BASE_METADATA).client.options("/")).status_code
    assert (await ds.client.options("/")).status_code == bare
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await ds.client.request(method, "/")).status_code == 405, method


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/-/home.json", "/-/payers/x.json", "/-/search.json?q=invoice", "/-/matrix.json",
                                  "/-/codes/J3590.json", "/-/changes.json", "/-/check.json?payer_id=x",
                                  "/-/drugs.json", "/-/compare.json?payers=a,b"])
async def test_payerkb_routes_are_a_clear_404_without_payerkb_database(other_db, path):
    ds = make([other_db], BASE_METADATA)
    r = await ds.client.get(path)
    assert r.status_code == 404
    assert r.json()["error"] == "no payerkb database is served here"
    html = await ds.client.get(path.split("?")[0].replace(".json", "").replace("/-/home", "/-/payers"))
    assert html.status_code == 404 and "no payerkb database is served here" in html.text
    post = await ds.client.post("/-/check", json={"payer_id": "x"})
    assert post.status_code == 404


@pytest.mark.asyncio
async def test_payerkb_database_found_by_its_tables_under_any_name(other_db, built_db, tmp_path):
    import shutil

    renamed = tmp_path / "knowledge.db"
    shutil.copy(built_db, renamed)
    ds = make([other_db, renamed], BASE_METADATA)
    home = await ds.client.get("/-/home.json")
    assert home.status_code == 200 and home.json()["database_path"] == "/knowledge"
    assert (await ds.client.get("/-/payers/medicare-palmetto-jj.json")).status_code == 200
    assert (await ds.client.get("/-/check.json?payer_id=medicare-palmetto-jj&date_of_service=2026-01-15&hcpcs=J3590&units=1")).status_code == 200
    told_kb = make([renamed, other_db], dict(BASE_METADATA, plugins={"payerkb": {"database": "knowledge"}}))
    r = await told_kb.client.get("/-/home.json")
    assert r.status_code == 200 and r.json()["database_path"] == "/knowledge"


@pytest.mark.asyncio
async def test_configured_database_name(other_db, built_db, tmp_path):
    import shutil

    renamed = tmp_path / "knowledge.db"
    shutil.copy(built_db, renamed)
    told_other = make([other_db, renamed], dict(BASE_METADATA, plugins={"payerkb": {"database": "other"}}))
    r = await told_other.client.get("/-/home.json")  # told: other, which holds no payerkb tables
    assert r.status_code == 404 and r.json()["error"] == "no payerkb database is served here"
    home = await told_other.client.get("/")
    assert home.status_code == 200 and '<body class="index">' in home.text  # Datasette's


@pytest.mark.asyncio
async def test_messages_cookies_and_actor_pass_through(other_db, built_db):
    for paths in ([other_db], [other_db, built_db]):
        ds = make(paths, BASE_METADATA)
        r = await ds.client.get("/-/add-message")
        assert r.status_code == 302
        cookie = r.cookies.get("ds_messages")
        assert cookie
        page = await ds.client.get("/", cookies={"ds_messages": cookie})
        assert "Hello from the neighbour" in page.text, paths
        assert any(h.startswith("ds_messages=") for h in page.headers.get_list("set-cookie"))  # read, then cleared
        bot = await ds.client.get("/-/hello", headers={"authorization": "Bearer letmein"})
        assert bot.json()["actor"] == {"id": "bot"}
        root = await ds.client.get("/-/actor.json", cookies=actors(ds)["root"][0])
        assert root.json()["actor"] == {"id": "root"}


@pytest.mark.asyncio
async def test_menu_links_and_logout_on_payerkb_pages_too(other_db, built_db):
    ds = make([other_db, built_db], BASE_METADATA)
    cookies = actors(ds)["root"][0]
    for path in ["/", "/-/matrix", "/-/search?q=invoice", "/other/t"]:
        page = await ds.client.get(path, cookies=cookies)
        assert page.status_code == 200, path
        assert "Hello neighbour" in page.text, path
        assert 'action="/-/logout"' in page.text and "Log out" in page.text, path
    page = await ds.client.get("/-/matrix", cookies=cookies)
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)  # Datasette 1.0's forms carry none
    out = await ds.client.post("/-/logout", data={"csrftoken": token.group(1)} if token else {},
                               cookies={**cookies, "ds_csrftoken": page.cookies.get("ds_csrftoken") or ""})
    assert out.status_code == 302
    assert any(h.startswith("ds_actor=") for h in out.headers.get_list("set-cookie"))


@pytest.mark.asyncio
async def test_body_classes_and_assets_on_datasette_and_payerkb_pages(other_db, built_db):
    ds = make([other_db, built_db], BASE_METADATA)
    expected = {"/other/t": '<body class="table db-other table-t">', "/other": '<body class="db db-other">',
                "/-/matrix": '<body class="payerkb">'}
    for path, body in expected.items():
        page = await ds.client.get(path)
        assert body in page.text, path
        assert 'href="https://static.metadata.example/m.css"' in page.text
        assert 'src="https://static.metadata.example/m.js" integrity="sha384-abc"' in page.text
        assert 'href="https://fonts.neighbour.example/n.css"' in page.text
        assert 'src="https://cdn.neighbour.example/n.js"' in page.text
        assert "window.NEIGHBOUR" in page.text


@pytest.mark.asyncio
async def test_content_security_policy_allows_what_other_plugins_add(other_db):
    from payerkb.web.security import _sha256

    ds = make([other_db], BASE_METADATA)
    page = await ds.client.get("/other/t")
    csp = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert _sha256(NEIGHBOUR_SCRIPT.format(view="table")) in csp["script-src"]
    assert "https://cdn.neighbour.example" in csp["script-src"]
    assert "https://static.metadata.example" in csp["script-src"]
    assert "https://fonts.neighbour.example" in csp["style-src"] and "https://static.metadata.example" in csp["style-src"]
    # a script that arrives any other way still matches nothing
    assert _sha256("alert(1)") not in csp["script-src"]
    plain = await ds.client.get("/-/static/app.css")
    assert _sha256(NEIGHBOUR_SCRIPT.format(view="table")) not in plain.headers["content-security-policy"]


@pytest.mark.asyncio
async def test_padlocks_and_database_list(other_db, built_db):
    md = copy.deepcopy(BASE_METADATA)
    md["databases"]["other"]["allow"] = {"id": "root"}
    ds = make([other_db], md)
    anonymous = (await ds.client.get("/.json")).json()
    assert _database_names(anonymous) == []
    root = await ds.client.get("/", cookies=actors(ds)["root"][0])
    assert "🔒" in root.text
    md = copy.deepcopy(BASE_METADATA)
    md["allow"] = {"id": "root"}
    ds = make([other_db, built_db], md)
    assert (await ds.client.get("/")).status_code == 403
    page = await ds.client.get("/other", cookies=actors(ds)["root"][0])
    assert page.status_code == 200 and "🔒" in page.text


@pytest.mark.asyncio
async def test_versions_differ_only_by_payerkb_plugins(other_db):
    ds = make([other_db], BASE_METADATA)
    ours = (await ds.client.get("/-/plugins.json")).json()
    with without_payerkb():
        bare = (await make([other_db], BASE_METADATA).client.get("/-/plugins.json")).json()
    assert [p for p in ours if not p["name"].startswith("payerkb")] == bare
    assert {p["name"] for p in ours} - {p["name"] for p in bare} == {p["name"] for p in ours if p["name"].startswith("payerkb")}
    json.dumps(ours)


@pytest.mark.asyncio
async def test_methods_on_payerkb_pages_as_on_datasettes(other_db, built_db):
    """HEAD: the page's status and headers, no body; OPTIONS (no CORS preflight) 405, as Datasette's
    views answer; PUT, PATCH, DELETE 405."""
    ds = make([other_db, built_db], BASE_METADATA)
    for path in ["/", "/-/matrix", "/-/home.json", "/-/payers/medicare-palmetto-jj.json", "/-/search?q=invoice"]:
        get = await ds.client.get(path)
        head = await ds.client.request("HEAD", path)
        assert head.status_code == get.status_code == 200, path
        assert head.text == "", path
        assert head.headers["content-type"] == get.headers["content-type"], path
        assert (await ds.client.options(path)).status_code == 405, path
        for method in ("PUT", "PATCH", "DELETE"):
            assert (await ds.client.request(method, path)).status_code == 405, (method, path)
    preflight = await ds.client.options("/-/check", headers={"Access-Control-Request-Method": "POST",
                                                             "Origin": "https://elsewhere.example"})
    assert preflight.status_code == 204


@pytest.mark.asyncio
async def test_sqlite_limits_only_on_payerkb_database(other_db, built_db):
    """payerkb's 10 MB value limit (issue 14) guards its own database, not the neighbour's."""
    ds = make([other_db, built_db], BASE_METADATA)
    sql = {"sql": "select length(zeroblob(20000000)) as n", "_shape": "array"}
    theirs = await ds.client.get("/other.json", params=sql, follow_redirects=True)
    assert theirs.status_code == 200 and theirs.json() == [{"n": 20000000}]
    ours = await ds.client.get("/payerkb.json", params=sql, follow_redirects=True)
    assert ours.status_code == 400 and "too big" in ours.text


@pytest.mark.asyncio
async def test_guard_refuses_methods_even_without_the_middleware(built_db):
    """Should another plugin's route overlap a payerkb path (so security.py lets every method
    through), the payerkb view still answers only GET and HEAD (and POST for the check)."""
    from types import SimpleNamespace

    from payerkb.web import guard

    ds = make([built_db], BASE_METADATA)
    await ds.invoke_startup()  # Datasette 1.0 knows its permission actions from then on
    called = []

    async def view(request):
        called.append(request.method)
        return Response.text("page")

    guarded = guard.guarded(r"^/-/matrix(?P<format>\.json|\.csv)?$", view)
    for method, expected in [("PUT", 405), ("DELETE", 405), ("POST", 405), ("GET", 200)]:
        request = SimpleNamespace(method=method, path="/-/matrix", actor=None, scope={})
        response = await guarded(request, ds, {}, None, None)
        assert response.status == expected, method
    assert called == ["GET"]
