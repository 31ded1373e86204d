"""Safe serving defaults, applied by Datasette's asgi_wrapper hook: headers, and no 500 on a POST.

The Content-Security-Policy lets scripts run only from this server's own files, plus the inline
scripts that ship inside Datasette's and payerkb's templates, each allowed by the sha256 of its
exact text. A `<script>` that ever slipped into a page from data would match no hash and would not
run. A plugin page that needs JavaScript should put it in payerkb/static/ (or in a static inline
`<script>` in payerkb/templates/, which is hashed automatically); scripts built at request time
(e.g. through the extra_body_script hook) are blocked.

Methods: GET and HEAD everywhere (OPTIONS answers a CORS preflight); POST only where something
takes a POST (the claim check, Datasette's logout and permission debugger, a canned query that
writes). Anything else answers 405 at once: Datasette 0.65.5 would answer a POST to a table, to
/-/messages or to a read-only canned query with a 500, and payerkb's own pages would answer a PUT
with the page. Datasette 1.0 answers these itself (and takes POSTs on its write API), so there only
payerkb's own pages refuse methods (payerkb/web/guard.py).

Routes of other plugins are theirs: any method passes through to them untouched (issue 18).

Datasette's own extension points keep working under the policy: an inline script that a plugin
returns from the extra_body_script hook, and the hosts of the URLs that extra_js_urls /
extra_css_urls (hook or metadata) name, are added to that response's policy (the hooks in
payerkb/plugin.py record them in the request's scope, see `record_*` below); inline scripts in
other plugins' templates and in --template-dir are hashed like Datasette's own.

CORS: the data is public and read-only and the check takes no credentials, so every JSON answer
carries Access-Control-Allow-Origin: *.
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import datasette
from datasette.utils import await_me_maybe, call_with_supported_arguments, tilde_decode
from datasette.utils.asgi import Response

import payerkb.web.compat as compat

TEMPLATE_DIRS = (
    Path(datasette.__file__).parent / "templates",
    Path(__file__).resolve().parent.parent / "templates",
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
# The one inline script of Datasette's that contains a template expression; it renders to either value.
_KNOWN_EXPRESSIONS = {"{{ datasette_allow_facet }}": ("true", "false")}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def inline_script_hashes(extra_dirs: tuple[str, ...] = ()) -> tuple[str, ...]:
    """CSP hash sources for every inline script in the templates, as the browser will see it:
    Datasette's, payerkb's and those of extra_dirs (other plugins', --template-dir)."""
    hashes: set[str] = set()
    for folder in (*TEMPLATE_DIRS, *(Path(d) for d in extra_dirs)):
        for template in sorted(folder.rglob("*.html")):
            for body in _INLINE_SCRIPT.findall(template.read_text(encoding="utf-8")):
                variants = [body]
                for expr, values in _KNOWN_EXPRESSIONS.items():
                    if expr in body:
                        variants = [v.replace(expr, value) for v in variants for value in values]
                hashes.update(_sha256(v) for v in variants if "{{" not in v and "{%" not in v)
    return tuple(sorted(hashes))


@lru_cache(maxsize=256)
def content_security_policy(extra_dirs: tuple[str, ...] = (), scripts: frozenset = frozenset(),
                            styles: frozenset = frozenset()) -> str:
    """The policy; `scripts` and `styles` are extra sources (hashes, hosts) for one response."""
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(["'self'", *inline_script_hashes(extra_dirs), *sorted(scripts)]),
        # Datasette's templates carry inline style blocks
        "style-src " + " ".join(["'self'", "'unsafe-inline'", *sorted(styles)]),
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


@lru_cache(maxsize=256)
def headers(csp: str | None = None) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.encode(), v.encode()) for k, v in (
        ("content-security-policy", csp or content_security_policy()),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ))


POST_PATHS = {"/-/check", "/-/check.json", "/-/logout", "/-/permissions"}
CORS = (b"access-control-allow-origin", b"*")


async def _canned_query(ds, path: str) -> dict | None:
    """The canned query at path (/<database>/<query>[.json]), if there is one."""
    parts = path.strip("/").split("/")
    if len(parts) != 2:
        return None
    database, query = (tilde_decode(p) for p in parts)
    if database not in ds.databases:
        return None
    return (await compat.canned_query(ds, database, query)
            or await compat.canned_query(ds, database, query.removesuffix(".json")))


async def _refuse(send, message: str, allow: bytes = b"GET, HEAD") -> None:
    extra = {k.decode(): v.decode() for k, v in ((b"allow", allow), CORS, *headers())}
    await Response.json({"ok": False, "error": message, "status": 405}, status=405, headers=extra).asgi_send(send)


async def _preflight(send, path: str) -> None:
    methods = b"GET, HEAD, POST" if path in POST_PATHS else b"GET, HEAD"
    await send({"type": "http.response.start", "status": 204, "headers": [
        CORS, (b"access-control-allow-methods", methods), (b"access-control-allow-headers", b"content-type"),
        (b"access-control-max-age", b"86400"), *headers()]})
    await send({"type": "http.response.body", "body": b""})


# -- what Datasette's extension points add to one page ------------------------------------------
SCOPE_KEY = "payerkb.csp"


def _collector(request) -> dict | None:
    scope = getattr(request, "scope", None) or {}
    return scope.get(SCOPE_KEY)


def _source(url: str) -> str | None:
    """The CSP source for an asset URL on another host (None for this server's own)."""
    parts = urlsplit(str(url))
    if not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else parts.netloc


def record_body_script(request, value):
    """Wrap one extra_body_script result: once Datasette awaits it, its hash joins the policy."""
    async def recorded():
        result = await await_me_maybe(value)
        found = _collector(request)
        if found is not None:
            script = result.get("script") if isinstance(result, dict) else result
            found["scripts"].add(_sha256(str(script)))
        return result
    return recorded()


def record_asset_urls(request, value, kind: str):
    """Wrap one extra_js_urls / extra_css_urls result: other hosts it names join the policy."""
    async def recorded():
        result = await await_me_maybe(value)
        found = _collector(request)
        if found is not None:
            add_urls(found, kind, result)
        return result
    return recorded()


def add_urls(found: dict, kind: str, urls) -> None:
    for item in urls or []:
        url = item.get("url") if isinstance(item, dict) else item
        source = _source(url) if url else None
        if source:
            found[kind].add(source)


def _extra_template_dirs(ds) -> tuple[str, ...]:
    from datasette.plugins import get_plugins

    dirs = [ds.template_dir] if getattr(ds, "template_dir", None) else []
    dirs += [p["templates_path"] for p in get_plugins() if p.get("templates_path")]
    own = {str(d) for d in TEMPLATE_DIRS}
    return tuple(sorted({str(Path(d).resolve()) for d in dirs} - own))


def _foreign_routes(ds) -> list[re.Pattern]:
    """The routes other plugins register: whatever method comes, it is theirs to answer."""
    from datasette.plugins import pm

    found = []
    for impl in pm.hook.register_routes.get_hookimpls():
        if (getattr(impl.plugin, "__name__", "") or "").split(".")[0] == "payerkb":
            continue
        try:
            routes = call_with_supported_arguments(impl.function, datasette=ds) or []
        except Exception:  # their problem, surfaced by Datasette itself when it builds its routes
            continue
        for regex, _view in routes:
            found.append(re.compile(regex) if isinstance(regex, str) else regex)
    return found


def middleware(ds):
    """The ASGI wrapper for Datasette instance `ds` (see payerkb/plugin.py)."""

    def wrap(app):
        foreign = _foreign_routes(ds)
        template_dirs = _extra_template_dirs(ds)

        async def with_defaults(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            method, path = scope["method"], scope["path"]
            theirs = any(route.match(path) for route in foreign)
            if not theirs and method == "OPTIONS" and any(
                    name.lower() == b"access-control-request-method" for name, _ in scope.get("headers") or []):
                return await _preflight(send, path)
            if method not in ("GET", "HEAD", "OPTIONS") and not theirs and not compat.answers_every_method():
                query = await _canned_query(ds, path) if method == "POST" and path not in POST_PATHS else None
                if method != "POST" or (path not in POST_PATHS and not (query and query.get("write"))):
                    if query is not None:
                        return await _refuse(send, "this query only reads: use GET with its parameters in the URL")
                    allow = b"GET, HEAD, POST" if path in POST_PATHS else b"GET, HEAD"
                    return await _refuse(send, f"{method} is not answered here", allow)

            found = {"scripts": set(), "scripts_src": set(), "styles_src": set()}
            scope = {**scope, SCOPE_KEY: found}

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    own = list(message.get("headers") or [])
                    present = {name.lower() for name, _ in own}
                    add_urls(found, "scripts_src", compat.configured(ds, "extra_js_urls"))
                    add_urls(found, "styles_src", compat.configured(ds, "extra_css_urls"))
                    csp = content_security_policy(
                        template_dirs, frozenset(found["scripts"] | found["scripts_src"]),
                        frozenset(found["styles_src"]))
                    extra = [h for h in headers(csp) if h[0] not in present]
                    ctype = next((v for n, v in own if n.lower() == b"content-type"), b"")
                    if (b"json" in ctype or b"atom" in ctype or b"csv" in ctype) and CORS[0] not in present:
                        extra.append(CORS)
                    message = {**message, "headers": own + extra}
                await send(message)

            await app(scope, receive, send_with_headers)

        return with_defaults

    return wrap
