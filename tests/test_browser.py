"""payerkb's pages in a real browser: Debian's Chromium driven by Playwright, against a real
`payerkb serve` on a free loopback port, on the database built from the shipped policies/.

Screenshots go to test-artifacts/browser/ (git-ignored). Requests to any host other than the
local server are answered by a stub inside the browser, so clicking a source link never leaves
the machine. Run only these with `pytest -m browser`; `make browser` installs Chromium.
"""
from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from servers import chromium_or_skip, payerkb_serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(built_db):
    with payerkb_serve(built_db) as (base, _):
        yield base


@pytest.fixture(scope="module")
def browser():
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    local = urlparse(server).netloc

    def stay_local(route):
        if urlparse(route.request.url).netloc == local:
            route.continue_()
        else:
            route.fulfill(status=200, content_type="text/html",
                          body="<title>outside page</title><h1>outside page (stubbed by the test)</h1>")

    context.route("**/*", stay_local)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    yield pg
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


PAGES = {
    "home": "/",
    "payers": "/-/payers",
    "payer": "/-/payers/medicare-palmetto-jj",
    "codes": "/-/codes",
    "code-j3590": "/-/codes/J3590",
    "compare-form": "/-/compare",
    "matrix": "/-/matrix",
    "changes": "/-/changes",
    "not-found": "/-/payers/no-such-payer",
}


def test_every_page_opens_with_its_heading_and_no_script_errors(page, server):
    for name, path in PAGES.items():
        response = page.goto(server + path)
        expected = 404 if name == "not-found" else 200
        assert response.status == expected, path
        assert page.locator("h1").count() == 1, path
        assert page.locator("h1").is_visible()
        # the stylesheet loaded: badges are coloured, not default
        if page.locator(".pk-badge").count():
            assert page.locator(".pk-badge").first.evaluate("e => getComputedStyle(e).borderRadius") != "0px"
        shot(page, name)
        if name != "not-found":  # there the browser rightly logs the 404 of the page itself
            assert page.console_errors == [], (path, page.console_errors)
        page.console_errors.clear()


def test_home_search_box_submits_to_the_search_page(page, server):
    page.goto(server + "/")
    box = page.get_by_label("Search the rules")
    box.fill("invoice threshold")
    with page.expect_navigation() as navigation:
        box.press("Enter")
    assert navigation.value.status == 200
    assert urlparse(page.url).path == "/-/search"
    assert "q=invoice+threshold" in page.url
    assert page.locator("h1").count() == 1
    shot(page, "search-from-home")


def test_matrix_to_payer_to_source(page, server):
    page.goto(server + "/-/matrix")
    rows = page.locator("table.pk-matrix tbody tr")
    n_payers = int(urllib.request.urlopen(server + "/payerkb.json?sql=select+count(*)+from+payers&_shape=arrayfirst").read().strip(b"[]"))
    assert rows.count() == n_payers
    cell = page.locator("td.cell.req-required a").first
    href = cell.get_attribute("href")
    payer_path, topic = href.split("#")
    cell.click()
    page.wait_for_url(re.compile(re.escape(payer_path) + "#" + topic))
    section = page.locator(f"section#{topic}")
    assert section.is_visible()
    assert section.locator("h2 .pk-badge").first.inner_text() in ("Required", "Varies", "Conflicting")
    shot(page, "matrix-to-payer")
    source = section.locator("ul.pk-sources a").first
    source_url = source.get_attribute("href")
    assert source_url.startswith("http") and "127.0.0.1" not in source_url
    source.click()
    page.wait_for_url(source_url)
    assert page.locator("h1").inner_text().startswith("outside page")


def test_compare_two_payers(page, server):
    page.goto(server + "/-/compare")
    # a checklist, narrowed by typing: no Ctrl-click
    every = page.locator("#compare-checklist li").count()
    page.get_by_label("Narrow the list").fill("palmetto")
    visible = page.locator("#compare-checklist li:visible")
    assert 1 <= visible.count() < every
    assert all("palmetto" in t.lower() for t in visible.all_inner_texts())
    page.get_by_label("Palmetto GBA, Jurisdiction J (JJ)", exact=False).check()
    page.get_by_label("Narrow the list").fill("fee-for-service national")
    page.get_by_label("Medicare fee-for-service (CMS, national)", exact=False).check()
    page.get_by_label("Narrow the list").fill("")
    assert page.locator("#compare-checklist li:visible").count() == every
    assert page.locator("#compare-count").inner_text() == "2 ticked"
    assert page.locator("#compare-checklist input:checked").count() == 2
    page.get_by_label("Code").select_option("J3590")
    with page.expect_navigation():
        page.get_by_role("button", name="Compare").click()
    assert "payers=medicare-palmetto-jj" in page.url and "payers=medicare-cms" in page.url
    headers = page.locator("table.pk-compare thead th").all_inner_texts()
    assert headers[0] == "Topic" and len(headers) == 3
    assert any("Palmetto" in h for h in headers) and any("Medicare fee-for-service" in h for h in headers)
    assert page.locator("table.pk-compare tbody tr").count() == 10
    differs = page.locator("tr.pk-differs")
    assert differs.count() >= 1
    # highlighted differently from rows that are the same
    same_bg = page.locator("tr.pk-same td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    diff_bg = differs.first.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert same_bg != diff_bg
    shot(page, "compare")


def test_compare_without_javascript_and_with_one_payer(browser, server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.goto(server + "/-/compare")
    assert not pg.get_by_label("Narrow the list").is_visible()  # the filter box needs JavaScript
    pg.locator('#compare-checklist input[value="medicare-cms"]').check()
    with pg.expect_navigation() as navigation:
        pg.get_by_role("button", name="Compare").click()
    # one payer: the form again, with what to do, and the payer still ticked
    assert navigation.value.status == 400
    assert "at least two" in pg.locator(".pk-error").inner_text()
    assert pg.locator('#compare-checklist input[value="medicare-cms"]').is_checked()
    pg.locator('#compare-checklist input[value="medicare-palmetto-jj"]').check()
    with pg.expect_navigation() as navigation:
        pg.get_by_role("button", name="Compare").click()
    assert navigation.value.status == 200 and pg.locator("table.pk-compare").is_visible()
    context.close()


def test_matrix_filter_form_narrows_to_a_code_and_marks_footing(page, server):
    page.goto(server + "/-/matrix")
    page.get_by_label("Code").select_option("J3590")
    page.get_by_label("Setting").select_option("professional")
    page.get_by_label("Date of service").fill("2026-03-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert "code=J3590" in page.url and "setting=professional" in page.url and "date=2026-03-01" in page.url
    assert page.get_by_label("Code").input_value() == "J3590"
    # every cell that has a rule says how firm it is; an unconfirmed one is drawn differently
    cells = page.locator("table.pk-matrix td.cell:not(.req-unknown)")
    assert cells.count() > 0
    assert cells.count() == page.locator("table.pk-matrix td.cell:not(.req-unknown) .pk-foot").count()
    unconfirmed = page.locator("td.cell.foot-unconfirmed a").first
    official = page.locator("td.cell.foot-official a").first
    assert unconfirmed.evaluate("e => getComputedStyle(e).backgroundImage") != official.evaluate(
        "e => getComputedStyle(e).backgroundImage")
    shot(page, "matrix-j3590-professional")


def _tab_until(page, predicate: str, limit: int) -> int:
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(predicate):
            return presses
    return 0


def test_keyboard_reaches_the_search_box_and_the_matrix_links(page, server):
    page.goto(server + "/")
    assert _tab_until(page, "document.activeElement.id === 'home-q'", 30), "Tab never reached the search box"
    page.keyboard.type("jw")
    assert page.get_by_label("Search the rules").input_value() == "jw"
    page.goto(server + "/-/matrix")
    assert _tab_until(page, "!!document.activeElement.closest('td.cell')", 80), "Tab never reached a matrix cell"
    href = page.evaluate("document.activeElement.getAttribute('href')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(href)
