"""Turn a page's main content into clean sections (heading + plain text), and read dates.

Each site module finds its content container (the part that is the article, not the site's
menus); `sections()` then splits it at headings. Tables become one line per row with cells
joined by " | ", so a field name and its limit in a table row stay together for the extractor.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

HEADINGS = ("h1", "h2", "h3", "h4", "h5")
BLOCK_CHILDREN = ["p", "div", "table", "ul", "ol"]


class ParseError(Exception):
    """The page does not have the structure the parser knows: it may have been redesigned."""


@dataclass
class Section:
    heading: str
    text: str

    @property
    def locator(self) -> str:
        return self.heading or "page body"


def soup(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def require(node: Tag | None, what: str, url: str) -> Tag:
    """The element a parser needs, or a ParseError naming it and the page."""
    if node is None:
        raise ParseError(f"{url}: {what} not found; the page's structure has changed")
    return node


def _table_lines(table: Tag) -> list[str]:
    lines = []
    for row in table.find_all("tr"):
        cells = [clean(c.get_text(" ")) for c in row.find_all(["th", "td"])]
        cells = [c for c in cells if c]
        if cells:
            lines.append(" | ".join(cells))
    return lines


def sections(container: Tag) -> list[Section]:
    """Split a content element into sections at its headings (h1-h5, or a lone <strong> line)."""
    for junk in container.find_all(["script", "style", "nav", "noscript", "form"]):
        junk.decompose()
    out: list[Section] = []
    heading, lines = "", []

    def flush():
        text = clean(" ".join(lines))
        if text:
            out.append(Section(heading, text))

    def walk(node: Tag):
        nonlocal heading, lines
        for child in node.children:
            if isinstance(child, NavigableString):
                if child.strip():
                    lines.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            if child.name in HEADINGS and child.find(BLOCK_CHILDREN):
                # an unclosed heading swallowed the blocks after it: its own text is the heading
                flush()
                heading = clean(" ".join(t for t in child.find_all(string=True, recursive=False)))
                lines = []
                walk(child)
            elif child.name in HEADINGS or _is_strong_heading(child):
                flush()
                heading, lines = clean(child.get_text(" ")), []
            elif child.name == "table":
                lines.extend(f"{line}." for line in _table_lines(child))
            elif child.name in ("ul", "ol", "section", "article", "main", "div", "span", "tbody"):
                walk(child)
            elif child.name == "br":
                lines.append(" ")
            else:
                lines.append(child.get_text(" ") + " ")

    walk(container)
    flush()
    return out


def _is_strong_heading(tag: Tag) -> bool:
    if tag.name != "p":
        return False
    strong = tag.find(["strong", "b"])
    return strong is not None and clean(strong.get_text()) == clean(tag.get_text()) and len(clean(tag.get_text())) < 90


MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(" + "|".join(sorted((m.capitalize() for m in MONTHS), key=len, reverse=True)) + r")"
_DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?!\d)"), "mdy"),
    (re.compile(r"\b" + _MONTH + r"\.? (\d{1,2}),? (\d{4})\b"), "Mdy"),
    (re.compile(r"\b(\d{1,2}) " + _MONTH + r"\.? (\d{4})\b"), "dMy"),
)


def parse_date(text: str | None) -> str | None:
    """The first real calendar date written in `text`, as YYYY-MM-DD (None when there is none)."""
    if not text:
        return None
    found = []
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            a, b, c = m.groups()
            try:
                if order == "ymd":
                    d = dt.date(int(a), int(b), int(c))
                elif order == "mdy":
                    d = dt.date(int(c), int(a), int(b))
                elif order == "Mdy":
                    d = dt.date(int(c), MONTHS[a.lower()], int(b))
                else:
                    d = dt.date(int(c), MONTHS[b.lower()], int(a))
            except ValueError:
                continue
            found.append((m.start(), d.isoformat()))
    return min(found)[1] if found else None


def labelled_date(text: str, *labels: str) -> str | None:
    """The date that follows one of `labels` (e.g. "Last Modified") in `text`, if any."""
    for label in labels:
        m = re.search(re.escape(label) + r"\s*:?\s*(.{0,40})", text, re.I)
        if m:
            value = parse_date(m.group(1))
            if value:
                return value
    return None
