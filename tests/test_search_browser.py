"""The search page in Chromium (marker `browser`): answers first, a shared rule folded with its
payers a click away, gaps in one line per payer after the rules, facets in words (issue 13). The
browser, server and page fixtures are test_browser.py's."""
from __future__ import annotations

import pytest
from test_browser import browser, page, server, shot  # noqa: F401 - the fixtures, shared

pytestmark = pytest.mark.browser


def test_search_leads_with_rules_and_folds_shared_rules_and_gaps(page, server):  # noqa: F811
    page.goto(server + "/-/search?q=c9399+ambulatory+surgical+center")
    first = page.locator("ol.pk-hits > li").first
    assert first.is_visible() and first.bounding_box()["y"] < 900
    folds = page.locator("details.pk-shared")
    shared = max((folds.nth(i) for i in range(folds.count())), key=lambda d: d.locator("p a").count())
    names = shared.locator("p a")
    assert not names.first.is_visible()  # folded until asked for
    shared.locator("summary").click()
    assert names.count() >= 12 and names.first.is_visible()
    assert page.get_by_role("link", name="Medicare contractor (MAC)").count() == 1
    assert page.get_by_role("link", name="medicare_mac").count() == 0
    shot(page, "search-shared")


def test_gaps_come_after_the_rules_one_line_per_payer(page, server):  # noqa: F811
    page.goto(server + "/-/search?q=invoice")
    rules = page.locator("ol.pk-hits")
    gaps = page.locator("section.pk-gaps")
    assert gaps.is_visible() and rules.is_visible()
    assert gaps.bounding_box()["y"] > rules.bounding_box()["y"] + rules.bounding_box()["height"] - 1
    lines = gaps.locator("li")
    payers = [lines.nth(i).locator("a").inner_text() for i in range(lines.count())]
    assert payers and len(payers) == len(set(payers))
    lines.first.locator("a").click()
    assert "/-/payers/" in page.url
