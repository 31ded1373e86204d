"""payerkb's pages on a phone and on a wide screen, in Chromium (marker `browser`): no page scrolls
sideways at 400 pixels wide, and the J3590 page stays short at 1,400 wide (issue 13). The browser,
server and page fixtures are test_browser.py's."""
from __future__ import annotations

import pytest
from test_browser import browser, page, server, shot  # noqa: F401 - the fixtures, shared

pytestmark = pytest.mark.browser

NARROW_PAGES = ["/-/check", "/-/payers", "/-/codes", "/-/codes/J3590", "/-/changes", "/-/matrix",
                "/-/payers/medicare-palmetto-jj", "/-/compare", "/", "/-/search?q=invoice", "/-/drugs"]


@pytest.fixture()
def phone(browser, server):  # noqa: F811 - the shared fixtures above
    context = browser.new_context(viewport={"width": 400, "height": 800})
    yield context.new_page()
    context.close()


def _too_wide(pg) -> list[str]:
    """The elements that stick out past the right edge of the screen (outside a scrolling box)."""
    return pg.evaluate("""() => {
      const width = document.scrollingElement.clientWidth, out = [];
      for (const e of document.querySelectorAll('body *')) {
        if (e.getBoundingClientRect().right > width + 1 && !e.parentElement.closest('.pk-scroll, .pk-table'))
          out.push(e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
      }
      return out.slice(0, 5);
    }""")


@pytest.mark.parametrize("path", NARROW_PAGES)
def test_no_page_scrolls_sideways_at_400_pixels(phone, server, path):  # noqa: F811
    response = phone.goto(server + path)
    assert response.status == 200
    scroll, client = phone.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert client <= 400
    assert scroll <= client, (path, scroll, _too_wide(phone))
    shot(phone, "narrow" + path.replace("/", "-"))


def test_the_check_pages_curl_example_wraps_on_a_phone(phone, server):  # noqa: F811
    phone.goto(server + "/-/check")
    example = phone.locator("pre, code").filter(has_text="curl").first
    assert example.is_visible()
    box = example.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 400


def test_j3590_page_leads_with_the_answers_and_stays_short(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.goto(server + "/-/codes/J3590")
    height = pg.evaluate("document.documentElement.scrollHeight")
    assert height < 15_000, height
    # the first payer's row of answers is on the first screen, above the other codes' list
    first_row = pg.locator("table.pk-code-matrix tbody tr").first
    assert first_row.bounding_box()["y"] < 900
    assert first_row.locator("td.cell").count() == 10
    assert pg.locator("#h-instead").bounding_box()["y"] > first_row.bounding_box()["y"]
    shot(pg, "code-j3590-wide")
    context.close()
