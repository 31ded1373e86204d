"""What the MAC page modules share: fetch each page, clean it, extract facts, write rules.

A site module only says where its article body, title and date are (CSS selectors and date
labels); a page without that body raises ParseError, so a redesign is reported, not guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from scrapers.extract import DENIAL_CODES, NOC_CODES, extract, to_rule
from scrapers.fetch import Fetched, Fetcher
from scrapers.html import ParseError, Section, clean, labelled_date, sections, soup
from scrapers.registry import ScrapeResult, SourceSpec

FIXTURE_NOTE = ("Offline fixture: a page written for payerkb's tests that mirrors the live page's "
                "markup; its content is invented. Not the live page.")


@dataclass
class PageContent:
    title: str | None
    doc_date: str | None
    sections: list[Section]


def fetch(spec: SourceSpec, fetcher: Fetcher, tick=None) -> list[Fetched]:
    out = []
    for page in spec.pages:
        out.append(fetcher.get(page.url))
        if tick:
            tick(1, len(spec.pages))
    return out


def read_page(html: str, url: str, *, containers: tuple[str, ...], titles: tuple[str, ...],
              date_labels: tuple[str, ...]) -> PageContent:
    doc = soup(html)
    body = next((doc.select_one(sel) for sel in containers if doc.select_one(sel) is not None), None)
    if body is None:
        raise ParseError(f"{url}: none of {', '.join(containers)} found; the page's structure has changed")
    title_node = next((doc.select_one(sel) for sel in titles if doc.select_one(sel) is not None), None)
    title = clean(title_node.get_text(" ")) if title_node else None
    doc_date = labelled_date(clean(doc.get_text(" ")), *date_labels)
    found = sections(body)
    if not found:
        raise ParseError(f"{url}: the article body is empty")
    return PageContent(title, doc_date, found)


def site(*, containers: tuple[str, ...], titles: tuple[str, ...], date_labels: tuple[str, ...]):
    """The (read_page, fetch, parse) functions of a MAC site module, from where its page keeps
    the article body, the title and the date."""

    def read_site_page(html: str, url: str) -> PageContent:
        return read_page(html, url, containers=containers, titles=titles, date_labels=date_labels)

    def fetch_site(spec: SourceSpec, fetcher: Fetcher, tick=None) -> list[Fetched]:
        return fetch(spec, fetcher, tick)

    def parse_site(spec: SourceSpec, fetched: list[Fetched]) -> ScrapeResult:
        return parse(spec, fetched, read_site_page)

    return read_site_page, fetch_site, parse_site


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-")


def page_source(spec: SourceSpec, page, got: Fetched, title: str | None, doc_date: str | None,
                fixture_note: str) -> dict:
    """The source record of one fetched page (dated, or undated when the page shows no date)."""
    source = {
        "id": slug(f"scraped-{spec.name}-{page.key}"),
        "url": page.url,
        "title": (title or page.title)[:300],
        "publisher": spec.publisher,
    }
    if doc_date:
        source["doc_date"] = doc_date
    else:
        source["undated"] = True
    source.update({"retrieved": got.retrieved, "kind": "official", "sha256": got.sha256})
    if got.fixture:
        source["note"] = fixture_note
    return source


def parse(spec: SourceSpec, fetched: list[Fetched], read) -> ScrapeResult:
    result = ScrapeResult()
    for page, got in zip(spec.pages, fetched):
        content = read(got.text, got.url)
        source = page_source(spec, page, got, content.title, content.doc_date, FIXTURE_NOTE)
        source_id = source["id"]
        result.sources.append(source)
        facts = extract(content.sections, noc_codes=NOC_CODES, default_setting=page.setting,
                        denial_codes=DENIAL_CODES)
        if not facts:
            result.warnings.append(f"{page.url}: no NOC billing facts found on the page")
        note = (f"Found by the {spec.name} scraper; check it against the page before relying on it."
                + (" Made from an offline fixture, not the live page." if got.fixture else ""))
        for payer_id in page.payer_ids:
            for fact in facts:
                rule_id = slug(f"{page.key}-{fact.topic}-{fact.setting}")
                result.rules.append(to_rule(fact, rule_id=rule_id, payer_id=payer_id,
                                            source_id=source_id, note=note))
    return result
