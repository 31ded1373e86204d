"""What the drug-notice modules share: read a payer's notice of drugs that need prior authorization.

Payers announce drug-level rules as an article with one or more tables: a drug, its HCPCS codes
and (Anthem) the clinical-criteria id, under a sentence that gives the first date of service
("effective for dates of service on and after ...", "beginning ..."). Each table row whose codes
include a NOC code becomes a candidate drug rule (`status: needs_review`) for `payerkb review`.

A page with no such table raises ParseError (the page was redesigned: fail, keep the last good
candidates); a table whose rows name no NOC code is a warning (the notice is about coded drugs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import Tag

from scrapers.extract import NOC_CODES
from scrapers.fetch import Fetched
from scrapers.html import ParseError, clean, parse_date, soup
from scrapers.registry import ScrapeResult, SourceSpec
from scrapers.sources._mac import page_source, slug

HCPCS = re.compile(r"\b[A-V]\d{4}\b")
TOPIC_HEADINGS = (
    ("step_therapy", re.compile(r"step therapy", re.I)),
    ("quantity_limit", re.compile(r"quantity limit", re.I)),
    ("prior_auth", re.compile(r"prior authori[sz]ation|precertification|prior approval", re.I)),
)
TABLE_LOCATORS = {
    "prior_auth": "prior authorization table",
    "step_therapy": "step therapy table",
    "quantity_limit": "quantity limit table",
}
START_DATE = re.compile(
    r"(?:on and after|on or after|beginning|starting|effective(?: for dates of service)?(?: on)?)\s+"
    r"((?:[A-Z][a-z]+\.? \d{1,2},? \d{4})|(?:\d{1,2}/\d{1,2}/\d{4}))",
    re.I,
)
COLUMNS = {
    "drug": re.compile(r"^drug(s|\(s\)| name)?$"),
    "codes": re.compile(r"hcpcs"),
    "criteria": re.compile(r"clinical criteria|policy"),
    "status": re.compile(r"^status$"),
}
_MARKS = re.compile(r"[®™*†]")
FIXTURE_NOTE = ("Offline fixture: a page written for payerkb's tests that mirrors the live notice's markup "
                "and its published facts (drugs, codes, criteria ids, dates), in our own words. Not the live page.")


@dataclass
class NoticeRow:
    topic: str
    effective_from: str | None
    drug: str
    generic: str | None
    codes: list[str]
    criteria_id: str | None
    starred: bool
    cells: list[str]


@dataclass
class Notice:
    title: str | None
    doc_date: str | None
    text: str
    rows: list[NoticeRow] = field(default_factory=list)
    tables: int = 0


def split_drug(cell: str) -> tuple[str, str | None]:
    """'Briumvi (ublituximab)' -> ('Briumvi', 'ublituximab'); marks like ® dropped."""
    text = clean(_MARKS.sub("", cell))
    m = re.fullmatch(r"(.+?)\s*\(([^()]+)\)\s*", text)
    return (clean(m.group(1)), clean(m.group(2))) if m else (text, None)


def _columns(header: list[str]) -> dict[str, int]:
    out = {}
    for i, name in enumerate(header):
        for key, pattern in COLUMNS.items():
            if key not in out and pattern.search(name):
                out[key] = i
                break
    return out


def _context(table: Tag) -> str:
    """The text between the previous table (or the start) and this one: its heading and date line."""
    parts = []
    for node in table.find_all_previous(string=True):
        parent = node.parent
        if parent is not None and parent.find_parent("table") is not None:
            break
        parts.append(str(node))
        if sum(len(p) for p in parts) > 3000:
            break
    return clean(" ".join(reversed(parts)))


def _topic(context: str) -> str | None:
    found = [(m.start(), topic) for topic, pattern in TOPIC_HEADINGS for m in pattern.finditer(context)]
    return max(found)[1] if found else None


def _start_date(context: str) -> str | None:
    found = list(START_DATE.finditer(context))
    return parse_date(found[-1].group(1)) if found else None


def read_notice(html: str | bytes, url: str, *, containers: tuple[str, ...], date_selectors: tuple[str, ...] = (),
                title_selectors: tuple[str, ...] = ("h1",)) -> Notice:
    doc = soup(html)
    body = next((doc.select_one(s) for s in containers if doc.select_one(s) is not None), None)
    if body is None:
        raise ParseError(f"{url}: none of {', '.join(containers)} found; the page's structure has changed")
    title_node = next((doc.select_one(s) for s in title_selectors if doc.select_one(s) is not None), None)
    date_node = next((doc.select_one(s) for s in date_selectors if doc.select_one(s) is not None), None)
    notice = Notice(
        title=clean(title_node.get_text(" ")) if title_node else None,
        doc_date=parse_date(clean(date_node.get_text(" "))) if date_node else None,
        text=clean(body.get_text(" ")),
    )
    for table in body.find_all("table"):
        rows = table.find_all("tr")
        if len(rows) < 2:
            continue
        header = [clean(c.get_text(" ")).lower() for c in rows[0].find_all(["th", "td"])]
        cols = _columns(header)
        if "drug" not in cols or "codes" not in cols:
            continue
        notice.tables += 1
        context = _context(table)
        topic, start = _topic(context), _start_date(context)
        for row in rows[1:]:
            cells = [clean(c.get_text(" ")) for c in row.find_all(["td", "th"])]
            if len(cells) != len(header) or not cells[cols["drug"]]:
                continue
            codes = HCPCS.findall(cells[cols["codes"]])
            criteria = cells[cols["criteria"]] if "criteria" in cols else ""
            brand, generic = split_drug(cells[cols["drug"]])
            notice.rows.append(NoticeRow(
                topic=topic or "prior_auth", effective_from=start, drug=brand, generic=generic, codes=codes,
                criteria_id=clean(criteria.replace("*", "")) or None, starred="*" in criteria,
                cells=cells))
    if not notice.tables:
        raise ParseError(f"{url}: no table of drugs and HCPCS codes found; the page's structure has changed")
    return notice


def collect(spec: SourceSpec, fetched: list[Fetched], read, reviewer) -> ScrapeResult:
    """Candidates from every page: `read(html, url)` gives a Notice, `reviewer(notice, row)` who reviews."""
    result = ScrapeResult()
    drugs: dict[str, dict] = {}
    for page, got in zip(spec.pages, fetched):
        notice = read(got.text, got.url)
        source = page_source(spec, page, got, notice.title, notice.doc_date, FIXTURE_NOTE)
        result.drug_sources.append(source)
        kept = 0
        for row in notice.rows:
            noc = [c for c in row.codes if c in NOC_CODES]
            if not noc:
                continue
            kept += 1
            drug_id = slug(row.drug)
            drugs.setdefault(drug_id, {"id": drug_id, "brand_name": row.drug, "generic_name": row.generic})
            rule = {
                "id": slug(f"{page.key}-{drug_id}-{row.topic}"),
                "payer_id": None,
                "drug": drug_id,
                "topic": row.topic,
                "codes": noc,
                "requirement": "required",
                "effective_from": row.effective_from,
                "criteria_id": row.criteria_id,
                "reviewer": reviewer(notice, row),
                "status": "needs_review",
                "origin": "scraped",
                "sources": [{"ref": source["id"], "locator": TABLE_LOCATORS[row.topic]}],
                "excerpt": " | ".join(row.cells)[:500],
            }
            for payer_id in page.payer_ids:
                result.drug_rules.append({**rule, "id": rule["id"], "payer_id": payer_id})
        if not kept:
            result.warnings.append(f"{page.url}: its drug tables name no NOC code (nothing to review)")
    result.drugs = list(drugs.values())
    for rule in result.drug_rules:
        for key in ("criteria_id", "reviewer", "effective_from"):
            if rule[key] is None:
                del rule[key]
    return result
