"""How Datasette's own table and row pages show payerkb's cells (the render_cell hook).

Only in payerkb's database; every other database's cells are Datasette's own.
- A JSON list of short values (rules.codes, modifiers, states ...) is one line, not a 20-line
  JSON cell: up to LIST_SHOWN values as "J3590, J3490", a longer list folded into a <details>
  whose summary names the first few and the count ("J3590, J3490, J3591 and 15 more").
- payer_id links to payerkb's own page for the payer (/-/payers/<id>), beside the link to the
  payers row Datasette gives a foreign key.
- changes.fields (a changed rule's fields with old and new values) is one line per field.
"""
from __future__ import annotations

import json
import weakref
from urllib.parse import quote

from markupsafe import Markup, escape

from payerkb.web.guard import find_database

LIST_SHOWN = 4
LIST_SUMMARY = 3
SHORT_VALUE = 40  # longer list items (sentences) keep Datasette's own display


def _short_list(value) -> list | None:
    """The value as a list of short scalars, when it is a JSON list of them."""
    if not isinstance(value, str) or not value.startswith("[") or not value.endswith("]"):
        return None
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(
            isinstance(i, (str, int, float)) and len(str(i)) <= SHORT_VALUE for i in items):
        return None
    return [str(i) for i in items]


def compact_list(items: list[str]) -> Markup:
    if not items:
        return Markup('<span class="pk-empty">(none)</span>')
    if len(items) <= LIST_SHOWN:
        return escape(", ".join(items))
    head, every = escape(", ".join(items[:LIST_SUMMARY])), escape(", ".join(items))
    return Markup(f'<details class="pk-list"><summary>{head} and {len(items) - LIST_SUMMARY} more</summary>'
                  f'{every}</details>')


_paths: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # Datasette -> {database: (page, row) prefixes}


def _prefixes(datasette, database: str) -> tuple[str, str]:
    known = _paths.setdefault(datasette, {})
    if database not in known:
        known[database] = (datasette.urls.path("/-/payers/"), datasette.urls.table(database, "payers") + "/")
    return known[database]


def payer_link(datasette, database: str, value) -> Markup | None:
    """payer_id as a link to the payerkb payer page, then to its payers row (Datasette's link)."""
    label = None
    if isinstance(value, dict):  # Datasette expanded the foreign key: {"value": id, "label": name}
        value, label = value.get("value"), value.get("label")
    if not isinstance(value, str) or not value:
        return None
    page, row = _prefixes(datasette, database)
    slug = escape(quote(value, safe=""))
    text = escape(label if label and label != value else value)
    return Markup(f'<a href="{page}{slug}" title="payerkb&#39;s page for this payer">{text}</a> '
                  f'<span class="pk-meta">(<a href="{row}{slug}">row</a>)</span>')


def _told(value) -> str:
    if value is None or value == []:
        return "(none)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def changed_fields(value) -> Markup | None:
    """changes.fields ([{"field", "old", "new"}]) as one line per field: field: old -> new."""
    try:
        fields = json.loads(value)
        lines = [f"{escape(f['field'])}: {escape(_told(f['old']))} \u2192 {escape(_told(f['new']))}" for f in fields]
    except (ValueError, TypeError, KeyError):
        return None
    return Markup("<br>".join(lines)) if lines else None


async def _render(value, column, table, database, datasette):
    kb = await find_database(datasette)
    if kb is None or kb.name != database:
        return None
    if column == "payer_id":
        return payer_link(datasette, database, value)
    if column == "fields" and table == "changes":
        return changed_fields(value)
    items = _short_list(value)
    return compact_list(items) if items is not None else None


def render_cell(row, value, column, table, database, datasette):
    # cheap tests first: most cells are neither a payer id nor a JSON list
    if column == "payer_id" or (isinstance(value, str) and value[:1] == "[" and value[-1:] == "]"):
        # an async function, not a coroutine: Datasette calls it only if no other plugin's answer
        # came first, so an unused one leaves no never-awaited coroutine behind
        async def render():
            return await _render(value, column, table, database, datasette)
        return render
    return None
