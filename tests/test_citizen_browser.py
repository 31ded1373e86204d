"""Issue 18 in a real browser: payerkb's Content-Security-Policy blocks nothing Datasette or another
plugin puts on a page. Debian's Chromium (Playwright) opens Datasette's table page, SQL editor,
canned query and row pages and payerkb's pages with a listener for `securitypolicyviolation`
events and console errors; then a Datasette with a neighbour plugin (from --plugins-dir) whose
extra_body_script, extra_js_urls and extra_css_urls must all run.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from servers import free_port, payerkb_serve, serving

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DATASETTE = Path(sys.executable).parent / "datasette"
WATCH_CSP = """document.addEventListener("securitypolicyviolation", e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});"""

NEIGHBOUR_PLUGIN = '''
from datasette import hookimpl

@hookimpl
def extra_body_script(view_name):
    return {"script": "window.NEIGHBOUR = %r;" % (view_name or "")}

@hookimpl
def extra_js_urls():
    return ["https://cdn.neighbour.example/n.js"]

@hookimpl
def extra_css_urls():
    return ["https://fonts.neighbour.example/n.css"]
'''


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser, server):
    context = browser.new_context()
    local = urlparse(server).netloc

    def route(r):
        url = urlparse(r.request.url)
        if url.netloc == local:
            return r.continue_()
        if url.path.endswith(".js"):
            return r.fulfill(status=200, content_type="text/javascript", body="window.CDN_LOADED = true;")
        if url.path.endswith(".css"):
            return r.fulfill(status=200, content_type="text/css", body="body { outline: 0; }")
        return r.fulfill(status=404, body="")

    context.route("**/*", route)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


def _open(page, url) -> list[str]:
    response = page.goto(url)
    assert response.status == 200, url
    page.wait_for_load_state("load")
    return (page.evaluate("window.__csp || []") or []) + page.errors


DATASETTE_PAGES = {
    "table": "/payerkb/rules",
    "table-facet": "/payerkb/rules?_facet=topic",
    "row": "/payerkb/payers/medicare-palmetto-jj",
    "database": "/payerkb",
    "sql-editor": "/payerkb?sql=select+id,+name+from+payers+limit+5",
    "canned-query": "/payerkb/rules_for_payer_and_code?payer=medicare-palmetto-jj&code=J3590",
    "canned-search": "/payerkb/search?q=invoice",
    "home": "/",
    "matrix": "/-/matrix",
    "check": "/-/check",
    "search": "/-/search?q=invoice",
    "payer": "/-/payers/medicare-palmetto-jj",
    "code": "/-/codes/J3590",
    "compare": "/-/compare?payers=medicare-palmetto-jj,medicare-cms&code=J3590",
    "changes": "/-/changes",
    "drugs": "/-/drugs",
    "x12-form": "/-/check/x12",
}


def test_no_csp_violation_on_datasette_and_payerkb_pages(browser, built_db):
    with payerkb_serve(built_db) as (base, _):
        context, page = _page(browser, base)
        try:
            for name, path in DATASETTE_PAGES.items():
                problems = _open(page, base + path)
                assert problems == [], (name, problems)
                if name == "sql-editor":
                    assert page.locator(".CodeMirror").count() == 1, "the SQL editor did not start"
                if name.startswith("table"):
                    # table.js ran (it adds the column actions menu buttons)
                    assert page.evaluate("typeof DATASETTE_ALLOW_FACET") == "boolean"
                page.errors.clear()
        finally:
            context.close()


def test_other_plugins_scripts_and_styles_run(browser, built_db, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "neighbour.py").write_text(NEIGHBOUR_PLUGIN)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.executescript("create table t (id integer primary key, name text); insert into t (name) values ('one');")
    conn.commit()
    conn.close()
    port = free_port()
    cmd = [str(DATASETTE), "serve", str(other), "-i", str(built_db), "--plugins-dir", str(plugins),
           "--port", str(port)]
    with serving(cmd, port) as (base, _):
        context, page = _page(browser, base)
        try:
            for path, view in [("/other/t", "table"), ("/other?sql=select+1", "database"), ("/-/matrix", ""),
                               ("/payerkb/payers", "table")]:
                problems = _open(page, base + path)
                assert problems == [], (path, problems)
                assert page.evaluate("window.NEIGHBOUR") == view, path
                assert page.evaluate("window.CDN_LOADED") is True, path
                assert page.evaluate(
                    "[...document.styleSheets].some(s => (s.href || '').includes('fonts.neighbour.example'))"), path
        finally:
            context.close()
