"""payerkb web feature: smart search at /-/search (HTML) and /-/search.json.

Both answer 200 whatever the query: an empty, malformed or unsearchable query, a bad filter or a
missing search index comes back as a message (see payerkb.search.search), never as an error page.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils import tilde_encode
from datasette.utils.asgi import Response

from payerkb.search import FILTERS, empty_answer
from payerkb.search_worker import run_search
from payerkb.web.guard import served_database

log = logging.getLogger(__name__)
PARAMS = ("q",) + FILTERS + ("limit",)
FACET_TITLES = {"payer_type": "Payer type", "topic": "Topic", "code": "Code", "state": "State"}


def _database(datasette):
    """The payerkb database's name and file (payerkb/web/guard.py found it), else (None, None)."""
    try:
        db = served_database(datasette)
    except LookupError:
        return None, None
    return (db.name, Path(db.path)) if db.path else (None, None)


async def _answer(datasette, request) -> tuple[str | None, dict]:
    args = {name: request.args.get(name) for name in PARAMS}
    db_name, db_path = _database(datasette)
    if db_path is None:
        return None, empty_answer(args["q"] or "", "No database is being served.", available=False)
    try:
        answer = await run_search(args["q"], db_path, payer_type=args["payer_type"], topic=args["topic"],
                                  code=args["code"], state=args["state"], limit=args["limit"])
    except Exception:  # the page must answer even when something unforeseen breaks
        log.exception("search failed for %r", args)
        answer = empty_answer(args["q"] or "", "Search failed unexpectedly; the error is in the server log.",
                              available=False)
    for hit in answer["hits"]:
        table = "drug_rules" if hit.get("kind") == "drug_rule" else "rules"
        hit["rule_url"] = datasette.urls.row(db_name, table, tilde_encode(hit["rule_id"]))
        hit["payer_url"] = datasette.urls.path(f"/-/payers/{hit['payer_id']}")
        if hit.get("drug_id"):
            hit["drug_url"] = datasette.urls.path(f"/-/drugs/{hit['drug_id']}")
        for payer in hit.get("payers", []):
            payer["payer_url"] = datasette.urls.path(f"/-/payers/{payer['payer_id']}")
    for gap in answer.get("gaps", []):
        gap["payer_url"] = datasette.urls.path(f"/-/payers/{gap['payer_id']}")
    return db_name, answer


async def search_json(datasette, request):
    _, answer = await _answer(datasette, request)
    return Response.json(answer)


def _link(request, **changes) -> str:
    """/-/search with the current parameters, some replaced (None removes one)."""
    args = {name: request.args.get(name) for name in PARAMS}
    args.update(changes)
    query = urlencode({k: v for k, v in args.items() if v})
    return request.path + (f"?{query}" if query else "")


async def search_html(datasette, request):
    db_name, answer = await _answer(datasette, request)
    facets = {
        name: [(value, count, _link(request, **{name: value})) for value, count in counts.items()]
        for name, counts in answer["facets"].items()
    }
    active = [(name, value, _link(request, **{name: None})) for name, value in answer["filters"].items()]
    html = await datasette.render_template(
        "payerkb_search.html",
        {
            "answer": answer,
            "facets": facets,
            "facet_titles": FACET_TITLES,
            "active_filters": active,
            "suggestion_url": _link(request, q=answer["suggestion"]) if answer["suggestion"] else None,
            "json_url": datasette.urls.path("/-/search.json") + (f"?{request.query_string}" if request.query_string else ""),
            "canned_url": datasette.urls.path(f"/{db_name}/search") + (f"?{urlencode({'q': answer['query']})}" if db_name else ""),
        },
        request=request,
    )
    return Response.html(html)


ROUTES: list = [(r"^/-/search\.json$", search_json), (r"^/-/search$", search_html)]
NAV_LINKS: list = [("Search", "/-/search")]
