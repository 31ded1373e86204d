"""payerkb web feature: the claim-line pre-check.

    POST /-/check         a JSON claim line -> the check's JSON
    POST /-/check         an 837 (application/edi-x12, or text/plain starting with ISA) -> the
                          report of payerkb/x12_check.py; multipart/form-data from the 837 form
    GET  /-/check/x12     the form to paste or upload an 837
    GET  /-/check.json?payer_id=...&hcpcs=...   the same, from query parameters
    GET  /-/check?...     JSON for programs; an HTML form with the findings for browsers

`strict` (a JSON key beside the claim fields, a query parameter or a form field: true/1/on) makes
the warnings for a topic the payer has no sourced rule on (units, NDC, narrative) errors.

Bad input is a 400 whose JSON names the field; it never reaches a traceback.
"""
from __future__ import annotations

import json
from email import policy as email_policy
from email.parser import BytesParser
from urllib.parse import parse_qsl

from datasette.utils.asgi import Response

import payerkb.x12 as x12
from payerkb.check import check_claim
from payerkb.claim import DRUG_KINDS, FIELDS, SETTINGS, ClaimInputError
from payerkb.web.guard import served_database
from payerkb.web.public import public_base
from payerkb.x12_check import check_837

MAX_BODY = 256 * 1024
EXAMPLE = {
    "payer_id": "medicare-palmetto-jj", "date_of_service": "2026-01-15", "setting": "professional",
    "hcpcs": "J3590", "units": 1, "ndc": "00002-1433-80", "ndc_qualifier": "N4", "ndc_unit": "ML",
    "ndc_quantity": 1, "narrative": "Drugname 150 mg IV NDC 00002143380", "single_dose_container": True,
    "modifiers": ["JZ"],
}


def _database(datasette):
    """The payerkb database payerkb/web/guard.py found for this request, else None."""
    try:
        return served_database(datasette)
    except LookupError:
        return None


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


TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _flag(value) -> bool:
    """`strict` as JSON (true/false), a query parameter or a form checkbox (1, true, on ...)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ClaimInputError("strict", f"strict: must be true or false (got {str(value)[:40]!r})")


def _options(line) -> tuple[object, bool]:
    """(the claim line without `strict`, strict): strict is an option of the check, not a field."""
    if isinstance(line, dict) and "strict" in line:
        fields = dict(line)
        return fields, _flag(fields.pop("strict"))
    return line, False


async def _run(datasette, line) -> tuple[int, dict]:
    db = _database(datasette)
    if db is None:
        return 503, {"ok": False, "error": "no database is attached: run `payerkb build`", "field": None}
    try:
        fields, strict = _options(line)
        return 200, await db.execute_fn(lambda conn: check_claim(fields, conn, strict))
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
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        limit = X12_MAX_BODY if ctype in X12_TYPES else MAX_BODY
        try:
            body = await read_body(request, limit)
        except BodyTooLarge:
            if limit == X12_MAX_BODY:
                return _bad("body", f"body: the request is larger than {X12_MAX_BODY // (1024 * 1024)} MB; "
                                    "check larger 837 files with `payerkb check FILE`")
            return _bad("body", f"body: the request is larger than {MAX_BODY // 1024} KB; send one claim line")
        if ctype in ("application/edi-x12", "text/plain"):
            if not x12.looks_like_x12(body):
                return _bad("body", "body: an X12 837 starts with an ISA segment (Content-Type application/edi-x12 "
                                    "or text/plain); send a JSON claim line as application/json")
            status, report = await _run_x12(datasette, body, request.args.get("payer"), request.args.get("strict"))
            return Response.json(report, status=status)
        if ctype == "multipart/form-data":
            return await _x12_form_post(request, datasette, body)
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


X12_MAX_BODY = 1024 * 1024
X12_TYPES = ("application/edi-x12", "text/plain", "multipart/form-data")


async def _run_x12(datasette, body: bytes, payer: str | None, strict=None) -> tuple[int, dict]:
    """(status, report) for an 837 body: 200 when it was read whole, 400 (with what could be read)
    when it is malformed or the payer given is unknown."""
    db = _database(datasette)
    if db is None:
        return 503, {"ok": False, "error": "no database is attached: run `payerkb build`", "field": None}
    try:
        strict = _flag(strict)
        report = await db.execute_fn(lambda conn: check_837(body, conn, payer_id=payer or None, strict=strict))
    except ClaimInputError as exc:
        return 400, exc.as_json()
    if not report["claims"] and not report["errors"]:
        report["errors"].append({"segment": None, "error": "no 837 transaction set in the file"})
    if report["errors"]:
        first = report["errors"][0]
        where = f"segment {first['segment']}: " if first.get("segment") else ""
        return 400, {**report, "ok": False, "error": where + first["error"], "field": "body"}
    return 200, report


def _multipart(request, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (the 837 form: x12, file, payer)."""
    head = b"Content-Type: " + request.headers.get("content-type", "").encode("latin-1", "replace") + b"\r\n\r\n"
    try:
        msg = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    except Exception:  # noqa: BLE001 - a broken upload is bad input, never a 500
        return {}
    if not msg.is_multipart():
        return {}
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and name not in out:
            out[name] = part.get_payload(decode=True) or b""
    return out


async def _x12_form_post(request, datasette, body: bytes) -> Response:
    fields = _multipart(request, body)
    data = (fields.get("file") or b"").strip() or (fields.get("x12") or b"").strip()
    payer = (fields.get("payer") or b"").decode("utf-8", "replace").strip()
    strict = (fields.get("strict") or b"").decode("utf-8", "replace").strip()
    wants_json = "text/html" not in request.headers.get("accept", "") or request.args.get("_format") == "json"
    if not data:
        status, report = 400, {"ok": False, "error": "body: paste an 837 or choose a file", "field": "body",
                               "errors": [{"segment": None, "error": "paste an 837 or choose a file"}], "claims": []}
    elif not x12.looks_like_x12(data):
        status, report = 400, {"ok": False, "error": "body: an X12 837 starts with an ISA segment", "field": "body",
                               "errors": [{"segment": None, "error": "not an X12 file: it does not start with ISA"}],
                               "claims": []}
    else:
        status, report = await _run_x12(datasette, data, payer, strict)
    if wants_json:
        return Response.json(report, status=status)
    return await _x12_page(request, datasette, report, payer, status, strict)


async def _x12_page(request, datasette, report: dict | None, payer: str, status: int = 200,
                    strict: str = "") -> Response:
    db = _database(datasette)
    payers = []
    if db is not None:
        payers = [dict(r) for r in (await db.execute("select id, name from payers order by name")).rows]
    html = await datasette.render_template("payerkb_check_x12.html", {
        "report": report, "payer": payer, "strict": strict in TRUE, "payers": payers,
        "db_name": db.name if db is not None else None,
        "max_mb": X12_MAX_BODY // (1024 * 1024),
    }, request=request)
    return Response.html(html, status=status)


async def check_x12_form(request, datasette):
    return await _x12_page(request, datasette, None, request.args.get("payer") or "")


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


ROUTES: list = [(r"^/-/check(?P<format>\.json)?$", check_view), (r"^/-/check/x12$", check_x12_form)]
NAV_LINKS: list = [("Claim check", "/-/check")]
