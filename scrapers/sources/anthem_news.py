"""Anthem (Elevance Health) provider news: specialty pharmacy prior-authorization notices.

Each state site publishes articles whose tables list clinical criteria, drug and HCPCS codes,
under "effective for dates of service on and after <date>". Two layouts are in use: up to 2022
the columns run criteria | codes | drug, from 2023 criteria | drug | codes; columns are found by
their header, so both read the same. A starred criteria id marks a drug whose oncology use is
reviewed by the separate company the footnote names (AIM Specialty Health, later Carelon).
"""
from __future__ import annotations

import re

from scrapers.sources import _drug_notice
from scrapers.sources._mac import fetch  # noqa: F401  (shared as is)

ONCOLOGY_REVIEWER = re.compile(r"(AIM Specialty Health|Carelon Medical Benefits Management)", re.I)
TEAM = "Anthem medical specialty drug review team"


def read(html, url):
    return _drug_notice.read_notice(
        html, url, containers=("div.article-body", "article", "main"),
        date_selectors=("p.article-date", "span.article-date", "time"), title_selectors=("h1",))


def reviewer(notice, row) -> str:
    onc = ONCOLOGY_REVIEWER.search(notice.text)
    if row.starred and onc:
        return f"{TEAM}; oncology use: {onc.group(1)}"
    return TEAM


def parse(spec, fetched):
    return _drug_notice.collect(spec, fetched, read, reviewer)
