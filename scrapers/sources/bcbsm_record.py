"""Blue Cross Blue Shield of Michigan, The Record: articles adding drugs to the medical drug
prior-authorization program (a Drug name | HCPCS code table under "beginning <date>")."""
from __future__ import annotations

from scrapers.sources import _drug_notice
from scrapers.sources._mac import fetch  # noqa: F401  (shared as is)

REVIEWER = "Blue Cross Blue Shield of Michigan"


def read(html, url):
    return _drug_notice.read_notice(
        html, url, containers=("div#record-article", "div.article", "body"),
        date_selectors=("p.issue-date", "td.issue-date"), title_selectors=("h1", "h2"))


def reviewer(notice, row) -> str:
    return REVIEWER


def parse(spec, fetched):
    return _drug_notice.collect(spec, fetched, read, reviewer)
