"""The payer page in Chromium (marker `browser`): topics with no source yet fold into one line,
the sourced topics lead, and a matrix link to an unknown topic still lands on it (issue 13).
The browser, server and page fixtures are test_browser.py's."""
from __future__ import annotations

import pytest
from test_browser import browser, page, server, shot  # noqa: F401 - the fixtures, shared

pytestmark = pytest.mark.browser


def test_unknown_topics_fold_into_one_line(page, server):  # noqa: F811
    page.goto(server + "/-/payers/bcbs-texas")
    folded = page.locator("p.pk-unknown-topics")
    assert folded.count() == 1 and folded.is_visible()
    text = folded.inner_text()
    assert text.startswith("No source found yet for:") and "Invoice" in text and "Units" in text
    assert page.get_by_text("Gap: no public source found yet").count() == 0
    shot(page, "payer-folded")


def test_a_matrix_link_to_an_unknown_topic_lands_on_the_folded_line(page, server):  # noqa: F811
    page.goto(server + "/-/matrix?payer_type=bcbs")
    page.locator("a[href*='/-/payers/bcbs-texas'][href$='#topic-invoice']").first.click()
    assert page.url.endswith("#topic-invoice")
    target = page.locator("#topic-invoice")
    assert target.is_visible()
    assert target.locator("xpath=..").get_attribute("class").find("pk-unknown-topics") >= 0
