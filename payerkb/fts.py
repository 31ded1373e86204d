"""Safe SQLite FTS5 queries from whatever a person types, and the Datasette hooks that use them.

`fts5_query("preauth \"blue cross\" -medicaid invoic*")` gives
`("preauth" OR "blue cross" OR "invoic"*) NOT "medicaid"`: every word is quoted, so FTS5 syntax
(AND/OR/NOT, parentheses, stray quotes, `-`, `:`) is plain text and can never raise an error;
quoted phrases, a trailing `*` (prefix) and a leading `-` (exclude) keep their usual meaning.
Nothing searchable left (empty, blanks, a lone quote) gives None; in SQL, `payerkb_fts()` then
returns an empty phrase, which FTS5 accepts and which matches no row.
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils import escape_fts, tilde_encode
from markupsafe import Markup, escape

NO_MATCH = '""'
SNIPPET_OPEN, SNIPPET_CLOSE = "«", "»"  # what the `search` canned query marks matches with
MAX_CHARS, MAX_TERMS = 1000, 32

_PIECE = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+(?:\.\w+)*")


def clean(text) -> str:
    """The text with control, format, surrogate and private-use characters turned into spaces."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)[:MAX_CHARS]
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def fts5_query(text) -> str | None:
    """An FTS5 MATCH expression for text (any term may match; bm25 ranks documents matching more
    terms higher), or None when nothing searchable is left."""
    positive, negative = [], []
    negate_next = False
    for match in _PIECE.finditer(clean(text)):
        minus, quoted, bare = match.groups()
        if bare is not None:
            if bare in ("AND", "OR"):
                continue
            if bare == "NOT":
                negate_next = True
                continue
            minus = "-" if bare.startswith("-") and len(bare) > 1 else ""
            prefix = bare.endswith("*")
            words = _WORD.findall(bare)
        else:
            prefix = False
            words = _WORD.findall(quoted)
        if not words:
            continue
        term = '"' + " ".join(words) + '"' + ("*" if prefix else "")
        (negative if minus or negate_next else positive).append(term)
        negate_next = False
    positive, negative = positive[:MAX_TERMS], negative[:MAX_TERMS]
    if not positive:
        return None
    expression = " OR ".join(dict.fromkeys(positive))
    if negative:
        expression = f"({expression})" + "".join(f" NOT {t}" for t in dict.fromkeys(negative))
    return expression


def fts5_match(text) -> str:
    """fts5_query for SQL: never None, so `x_fts MATCH payerkb_fts(:q)` cannot fail."""
    return fts5_query(text) or NO_MATCH


def mark_snippet(value: str) -> Markup:
    """A snippet with «matches» as safe HTML: the text is escaped first, then marked."""
    escaped = str(escape(value))
    return Markup(escaped.replace(SNIPPET_OPEN, "<mark>").replace(SNIPPET_CLOSE, "</mark>"))


@hookimpl
def prepare_connection(conn):
    conn.create_function("payerkb_fts", 1, fts5_match, deterministic=True)


_ROW_TABLES = {"rule": "rules", "payer": "payers", "source": "sources", "code": "codes"}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    # Only the results of our `search` canned query: they have a kind, an id and a snippet.
    if table is not None or column not in ("snippet", "id") or not isinstance(value, str):
        return None
    try:
        kind = row["kind"]
    except (IndexError, KeyError, TypeError):
        return None
    if kind not in _ROW_TABLES:
        return None

    async def rendered():
        if not await _is_payerkb(datasette, database):  # another database's results are its own
            return None
        if column == "snippet":
            return mark_snippet(value)
        href = datasette.urls.row(database, _ROW_TABLES[kind], tilde_encode(value))
        return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')

    return rendered()


def _safe_table_search(query_string: bytes) -> bytes | None:
    """The query string with blank or unsearchable `_search` values removed (Datasette answers
    them with a 400 error), or None when nothing needed changing."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    kept, changed = [], False
    for key, value in pairs:
        if key == "_search" or key.startswith("_search_"):
            cleaned = clean(value)
            if not escape_fts(cleaned).strip():
                changed = True
                continue
            if cleaned != value:
                changed, value = True, cleaned
        kept.append((key, value))
    return urlencode(kept).encode("latin-1", "replace") if changed else None


async def _is_payerkb(datasette, database) -> bool:
    from payerkb.web.guard import find_database

    db = await find_database(datasette)
    return db is not None and db.name == database


async def _payerkb_path(datasette, path: str) -> bool:
    """Is path a page of payerkb's database (/<database>/...)? Other databases' searches are theirs."""
    from datasette.utils import tilde_decode

    from payerkb.web.guard import find_database

    db = await find_database(datasette)
    first = path.lstrip("/").split("/", 1)[0]
    return db is not None and tilde_decode(first).split(".", 1)[0] in (db.name, getattr(db, "route", db.name))


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def safe_search_app(scope, receive, send):
            if (scope.get("type") == "http" and b"_search" in scope.get("query_string", b"")
                    and await _payerkb_path(datasette, scope.get("path", ""))):
                fixed = _safe_table_search(scope["query_string"])
                if fixed is not None:
                    scope = dict(scope, query_string=fixed)
            await app(scope, receive, send)

        return safe_search_app

    return wrap
