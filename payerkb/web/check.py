"""payerkb web feature: the claim-line pre-check.

    POST /-/check         a JSON claim line -> the check's JSON
    GET  /-/check.json?payer_id=...&hcpcs=...   the same, from query parameters
    GET  /-/check?...     JSON for programs; an HTML form with the findings for browsers

Bad input is a 400 whose JSON names the field; it never reaches a traceback.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

from datasette.utils.asgi import Response

from payerkb.check import check_claim
from payerkb.claim import DRUG_KINDS, FIELDS, SETTINGS, ClaimInputError
from payerkb.web.public import public_base

MAX_BODY = 256 * 1024
EXAMPLE = {
    "payer_id": "medicare-palmetto-jj", "date_of_service": "2026-01-15", "setting": "professional",
    "hcpcs": "J3590", "units": 1, "ndc": "00002-1433-80", "ndc_qualifier": "N4", "ndc_unit": "ML",
    "ndc_quantity": 1, "narrative": "Drugname 150 mg IV NDC 00002143380", "single_dose_container": True,
    "modifiers": ["JZ"],
}


def _database(datasette):
    dbs = [db for name, db in datasette.databases.items() if name != "_internal"]
    return datasette.databases.get("payerkb") or (dbs[0] if dbs else None)


def _params(pairs) -> dict:
    """Query-string or form pairs as a claim dict: repeated modifiers join, `_` keys are ours."""
    out: dict = {}
    for key, value in pairs:
        if key.startswith("_") or key == "csrftoken":
            continue
        if key == "modifiers" and out.get(key):
            out[key] = f"{out[key]},{value}"
        else:
            out[key] = value
    return out


def _bad(field: str | None, message: str) -> Response:
    return Response.json({"ok": False, "error": message, "field": field,
                          "errors": [{"field": field, "message": message}]}, status=400)


async def _run(datasette, line) -> tuple[int, dict]:
    db = _database(datasette)
    if db is None:
        return 503, {"ok": False, "error": "no database is attached: run `payerkb build`", "field": None}
    try:
        return 200, await db.execute_fn(lambda conn: check_claim(line, conn))
    except ClaimInputError as exc:
        return 400, exc.as_json()


def _wants_html(request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and request.args.get("_format") != "json"


class BodyTooLarge(Exception):
    pass


async def read_body(request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused on its Content-Length at once, and never read past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    more = True
    while more:
        message = await request.receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def check_view(request, datasette):
    as_json = bool(request.url_vars.get("format"))
    if request.method == "POST":
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _bad("body", f"body: the request is larger than {MAX_BODY // 1024} KB; send one claim line")
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        if ctype == "application/x-www-form-urlencoded":
            line = _params(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            try:
                line = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError) as exc:
                return _bad("body", f"body: not valid JSON ({str(exc)[:200]})")
            except RecursionError:
                return _bad("body", "body: JSON nested too deeply")
            if not isinstance(line, dict):
                return _bad("body", "body: send one claim line as a JSON object, e.g. "
                                    + json.dumps({k: EXAMPLE[k] for k in ("payer_id", "date_of_service", "hcpcs")}))
        status, result = await _run(datasette, line)
        return Response.json(result, status=status)

    line = _params(parse_qsl(request.query_string, keep_blank_values=True))
    if as_json or (line and not _wants_html(request)):
        if not line:
            return _bad(None, "give the claim line as query parameters, e.g. "
                              "/-/check.json?payer_id=medicare-palmetto-jj&date_of_service=2026-01-15&hcpcs=J3590&units=1")
        status, result = await _run(datasette, line)
        return Response.json(result, status=status)
    return await _form_page(request, datasette, line)


async def _form_page(request, datasette, line: dict) -> Response:
    status, result, error = 200, None, None
    if line:
        status, result = await _run(datasette, line)
        if status != 200:
            error, result = result, None
    db = _database(datasette)
    payers, codes = [], []
    if db is not None:
        payers = [dict(r) for r in (await db.execute("select id, name from payers order by name")).rows]
        codes = [dict(r) for r in (await db.execute("select code, short_descriptor from codes order by code")).rows]
    query = request.query_string
    html = await datasette.render_template("payerkb_check.html", {
        "line": line, "result": result, "error": error, "payers": payers, "codes": codes,
        "settings": SETTINGS, "drug_kinds": DRUG_KINDS, "fields": FIELDS,
        "json_url": datasette.urls.path("/-/check.json") + f"?{query}" if line else None,
        "db_name": db.name if db is not None else None, "example": json.dumps(EXAMPLE),
        "origin": public_base(datasette) or "http://127.0.0.1:8001",
    }, request=request)
    return Response.html(html, status=status)


ROUTES: list = [(r"^/-/check(?P<format>\.json)?$", check_view)]
NAV_LINKS: list = [("Claim check", "/-/check")]
