"""payerkb web feature: the claim-context answer as JSON, the single lookup other programs call.

    GET /-/payers/<payer-id>/answer.json?code=J3590&date=2026-03-01&setting=professional&drug=Qalsody

Every query parameter is optional (payerkb/answer.py says what each does). Bad input is a 400 whose
JSON names the parameter; an unknown payer is a 404; both are JSON, never a traceback.
"""
from __future__ import annotations


from datasette.utils.asgi import Response

from payerkb.answer import answer

try:
    import payerkb.web.guard as guard
except ImportError:  # pragma: no cover - a payerkb without the permission guard (issue 18)
    guard = None

PARAMS = ("code", "date", "setting", "drug")
ROUTE = r"^/-/payers/(?P<payer_id>[^/]+?)/answer\.json$"


def _database(datasette):
    """The payerkb database the guard found for this request, else the one called payerkb, else
    the first one served (None when nothing is served)."""
    if guard is not None:
        try:
            return guard.served_database(datasette)
        except LookupError:
            pass
    dbs = [db for name, db in datasette.databases.items() if not name.startswith("_")]
    return datasette.databases.get("payerkb") or (dbs[0] if dbs else None)


def _json(data, status: int = 200) -> Response:
    return Response.json(data, status=status, default=str, headers={"Access-Control-Allow-Origin": "*"})


def _error(status: int, message: str, field: str | None) -> Response:
    return _json({"ok": False, "status": status, "error": message, "field": field}, status)


async def answer_view(request, datasette):
    payer_id = request.url_vars["payer_id"]
    args = {}
    for name in PARAMS:
        values = request.args.getlist(name)
        if len(values) > 1:
            return _error(400, f"{name}: give it once (got {len(values)} values)", name)
        args[name] = values[0] if values and values[0].strip() else None
    db = _database(datasette)
    if db is None:
        return _error(404, "no payerkb database is served here", None)
    try:
        result = await db.execute_fn(lambda conn: answer(conn, payer_id, **args))
    except ValueError as exc:
        message = str(exc)
        field = message.split(":", 1)[0] if ":" in message else None
        return _error(400, message, field if field in (*PARAMS, "payer") else None)
    if result is None:
        return _error(404, f"No payer with id {payer_id!r}. The payers page (/-/payers.json) lists every payer.",
                      "payer")
    return _json({"ok": True, **result})


ROUTES: list = [(ROUTE, answer_view)]


async def for_payer_page(datasette, request, payer_id: str, db=None) -> dict | None:
    """The answer for the payer page and its .json (`answer` key) when the request gives any of
    code, date, setting or drug; None when it gives none. ValueError for bad input (the page turns
    it into a 400)."""
    args = {name: (request.args.get(name) or "").strip() or None for name in PARAMS}
    if not any(args.values()):
        return None
    db = db or _database(datasette)
    if db is None:
        return None
    return await db.execute_fn(lambda conn: answer(conn, payer_id, **args))
