"""payerkb's own pages: home, payers, codes, compare, matrix and changes, each with a JSON twin.

Every view asks payerkb.queries for its data and then renders it as HTML (templates in
payerkb/templates/), as JSON (the same dict), or as CSV / Atom where the page offers them.
"""
from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from db import matrix as matrix_cells
from db.schema import PAYER_TYPES, US_STATES
import payerkb.queries as queries
from payerkb.web.guard import served_database
import payerkb.web.answer as claim_answer
import payerkb.web.pages_feed as changes_feed
from payerkb.web.pages_labels import CHANGE_KIND_LABELS, REQUIREMENT_LABELS, TEMPLATE_HELPERS

DATABASE = "payerkb"


class BadRequest(Exception):
    """A query parameter is wrong; the message names it (answered with 400)."""


class NotFound(Exception):
    """The payer or code asked for does not exist (answered with 404)."""


def kb_database(datasette):
    """The payerkb database, as payerkb/web/guard.py found it before the view ran (LookupError if none)."""
    return served_database(datasette)


async def _query(datasette, fn, *args, **kwargs):
    return await kb_database(datasette).execute_fn(lambda conn: fn(conn, *args, **kwargs))


def _param(request, name: str, allowed=None) -> str | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if allowed is not None and value not in allowed:
        raise BadRequest(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _state(request) -> str | None:
    value = _param(request, "state")
    if value and value.upper() not in US_STATES:
        raise BadRequest(f"state: {value!r} is not a two-letter US state or territory code")
    return value.upper() if value else None


MAX_PAGE = 100_000


def _page(request) -> int:
    value = _param(request, "page") or "1"
    # isascii: str.isdigit() accepts '²' and other digits int() refuses
    if not (value.isascii() and value.isdigit()) or len(value) > 6 or not 1 <= int(value) <= MAX_PAGE:
        raise BadRequest(f"page: {value[:20]!r} is not a page number (1 to {MAX_PAGE:,})")
    return int(value)


def _url_with(request, **changes) -> str:
    """The current path with some query parameters replaced (None drops one)."""
    args = {k: request.args.getlist(k) for k in request.args.keys()}
    args.update({k: [v] for k, v in changes.items()})
    args = {k: [v for v in vs if v not in (None, "")] for k, vs in args.items()}
    query = urlencode({k: vs for k, vs in args.items() if vs}, doseq=True)
    return request.path + (f"?{query}" if query else "")


def _json_url(request) -> str:
    path = "/-/home" if request.path == "/" else request.path
    return path + ".json" + (f"?{request.query_string}" if request.query_string else "")


async def _html(datasette, request, template: str, data: dict, status: int = 200) -> Response:
    context = {"data": data, "url_with": lambda **kw: _url_with(request, **kw),
               "json_url": _json_url(request), **TEMPLATE_HELPERS}
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


def _json(data, status: int = 200) -> Response:
    return Response.json(data, status=status, default=str, headers={"Access-Control-Allow-Origin": "*"})


async def _error(datasette, request, status: int, message: str, fmt: str | None) -> Response:
    if fmt == ".json":
        return _json({"ok": False, "status": status, "error": message}, status)
    data = {"status": status, "error": message, "title": "Not found" if status == 404 else "Bad request"}
    return await _html(datasette, request, "payerkb_error.html", data, status)


def _view(handler):
    """Turn BadRequest/NotFound from a handler into a 400/404 page or JSON."""
    async def view(request, datasette):
        fmt = request.url_vars.get("format") or None
        try:
            return await handler(request, datasette, fmt)
        except BadRequest as exc:
            return await _error(datasette, request, 400, str(exc), fmt)
        except NotFound as exc:
            return await _error(datasette, request, 404, str(exc), fmt)
    return view


@_view
async def home(request, datasette, fmt):
    data = await _query(datasette, queries.summary)
    data["database_path"] = datasette.urls.database(kb_database(datasette).name)
    if fmt == ".json":
        return _json(data)
    return await _html(datasette, request, "payerkb_home.html", data)


@_view
async def payer_list(request, datasette, fmt):
    data = await _query(datasette, queries.payer_list, _param(request, "payer_type", PAYER_TYPES), _state(request),
                        _page(request))
    return _json(data) if fmt == ".json" else await _html(datasette, request, "payerkb_payers.html", data)


@_view
async def payer(request, datasette, fmt):
    payer_id = request.url_vars["payer_id"]
    data = await _query(datasette, _payer_page, payer_id, _param(request, "code"), _param(request, "date"))
    if data is None:
        raise NotFound(f"No payer with id {payer_id!r}. The payers page lists every payer.")
    data["database_path"] = datasette.urls.database(kb_database(datasette).name)
    try:  # the claim-context answer (issue 13, payerkb/answer.py) when code, date, setting or drug is given
        data["answer"] = await claim_answer.for_payer_page(datasette, request, payer_id, kb_database(datasette))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return _json(data) if fmt == ".json" else await _html(datasette, request, "payerkb_payer.html", data)


@_view
async def code_list(request, datasette, fmt):
    data = await _query(datasette, queries.code_list)
    return _json(data) if fmt == ".json" else await _html(datasette, request, "payerkb_codes.html", data)


@_view
async def code(request, datasette, fmt):
    code_id = request.url_vars["code"]
    data = await _query(datasette, queries.code_page, code_id, _param(request, "payer_type", PAYER_TYPES),
                        _state(request), _page(request))
    if data is None:
        raise NotFound(f"{code_id!r} is not one of the NOC codes payerkb covers. "
                          "The codes page lists them.")
    return _json(data) if fmt == ".json" else await _html(datasette, request, "payerkb_code.html", data)


@_view
async def compare(request, datasette, fmt):
    # payers=a,b (links, API) or payers=a&payers=b (the form's checkboxes)
    payers_arg = ",".join(request.args.getlist("payers"))
    code_arg = (request.args.get("code") or "J3590").strip()
    if not payers_arg and fmt != ".json":
        data = {"form_only": True, "code": code_arg.upper()}
    elif fmt == ".json":
        data = await _query(datasette, _compare, payers_arg.split(","), code_arg)
    else:
        try:
            data = await _query(datasette, _compare, payers_arg.split(","), code_arg)
        except (BadRequest, NotFound) as exc:
            # the form again, with what to change and the payers already ticked
            chosen = [p.strip() for p in payers_arg.split(",") if p.strip()]
            data = {"form_only": True, "code": code_arg.upper(), "error": str(exc), "chosen": chosen}
            data["choices"] = await _query(datasette, _choices)
            status = 404 if isinstance(exc, NotFound) else 400
            return await _html(datasette, request, "payerkb_compare.html", data, status=status)
    data["choices"] = await _query(datasette, _choices)
    return _json(data) if fmt == ".json" else await _html(datasette, request, "payerkb_compare.html", data)


def _payer_page(conn, payer_id, code, date=None):
    try:
        return queries.payer_page(conn, payer_id, code=code, date=date)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _compare(conn, payer_ids, code_arg):
    try:
        return queries.compare(conn, payer_ids, code_arg)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    except LookupError as exc:
        raise NotFound(str(exc).strip("'\"")) from None


COMPARE_CHECKLIST_MAX = 300


def _choices(conn):
    """Payers (for the checklist, when there are at most COMPARE_CHECKLIST_MAX: else the form takes
    payer ids typed in, and the list is left out) and codes for the compare form."""
    n = conn.execute("select count(*) from payers").fetchone()[0]
    return {
        "payer_count": n,
        "payers": queries._rows(conn, "select id, name, payer_type from payers order by payer_type, name")
        if n <= COMPARE_CHECKLIST_MAX else None,
        "codes": queries._rows(conn, "select code, short_descriptor from codes order by code = 'J3590' desc, code"),
    }


def _matrix(conn, *args, **kwargs):
    try:
        return queries.matrix(conn, *args, **kwargs)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def matrix_csv(data: dict) -> str:
    """The matrix as CSV: the payer_matrix view's columns (db/matrix.py), states space-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    topics = data["topics"]
    writer.writerow(matrix_cells.columns(topics))
    for p in data["payers"]:
        writer.writerow([p["id"], p["name"], p["payer_type"], " ".join(p["states"]), p["jurisdiction"] or ""]
                        + [p["cells"][t] for t in topics] + [p["drug_list_drugs"]]
                        + [p["footing"][t] or "" for t in topics])
    return out.getvalue()


@_view
async def matrix(request, datasette, fmt):
    # the CSV is every payer the filters keep; the page and its JSON go MATRIX_PAGE_SIZE at a time
    _page(request)  # checked for the CSV too, which ignores it
    data = await _query(datasette, _matrix, _param(request, "payer_type", PAYER_TYPES), _state(request),
                        _param(request, "code"), _param(request, "setting"), _param(request, "date"),
                        page=_page(request) if fmt != ".csv" else None)
    if fmt == ".json":
        return _json(data)
    if fmt == ".csv":
        return Response(matrix_csv(data), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="payerkb-matrix.csv"'})
    data["csv_url"] = _url_with(request, page=None).replace("/-/matrix", "/-/matrix.csv", 1)
    data["labels"] = REQUIREMENT_LABELS
    data["database_path"] = datasette.urls.database(kb_database(datasette).name)
    # the claim context the cells were narrowed to, passed on to the payer pages they link to
    data["context_query"] = urlencode([(k, data["filters"][k]) for k in ("code", "date", "setting")
                                       if data["filters"][k]])
    return await _html(datasette, request, "payerkb_matrix.html", data)


@_view
async def changes(request, datasette, fmt):
    kind = _param(request, "kind", tuple(CHANGE_KIND_LABELS))
    payer_id = _param(request, "payer")
    if fmt == ".atom":  # an alias of the changes_feed canned query's .atom (payerkb/web/pages_feed.py)
        return await changes_feed.changes_atom(request, datasette)
    data = await _query(datasette, queries.changes, kind, payer_id, page=_page(request))
    data["changes"] = await changes_feed.shape_changes(datasette, data["changes"])
    if fmt == ".json":
        return _json(data)
    data["atom_url"] = _url_with(request, page=None).replace("/-/changes", "/-/changes.atom", 1)
    data["feed_query_path"] = datasette.urls.database(kb_database(datasette).name) + "/" + changes_feed.FEED_QUERY
    return await _html(datasette, request, "payerkb_changes.html", data)


ROUTES: list = [
    (r"^/$", home),
    (r"^/-/home(?P<format>\.json)$", home),
    (r"^/-/payers(?P<format>\.json)?$", payer_list),
    (r"^/-/payers/(?P<payer_id>[^/]+?)(?P<format>\.json)?$", payer),
    (r"^/-/codes(?P<format>\.json)?$", code_list),
    (r"^/-/codes/(?P<code>[^/]+?)(?P<format>\.json)?$", code),
    (r"^/-/compare(?P<format>\.json)?$", compare),
    (r"^/-/matrix(?P<format>\.json|\.csv)?$", matrix),
    (r"^/-/changes(?P<format>\.json|\.atom)?$", changes),
]
NAV_LINKS: list = [
    ("Payer × topic matrix", "/-/matrix"),
    ("Payers", "/-/payers"),
    ("J3590 across payers", "/-/codes/J3590"),
    ("NOC codes", "/-/codes"),
    ("Compare payers", "/-/compare"),
    ("What changed", "/-/changes"),
]
