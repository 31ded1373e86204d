"""The payerkb Datasette plugin: collects the routes and template variables of payerkb's pages.

Each feature keeps its own module under payerkb/web/ exposing ROUTES, a list of
(regex, view) pairs; this module hands them all to Datasette.
"""
from datasette import hookimpl

from payerkb.web import FEATURE_MODULES
from payerkb.web import security


@hookimpl
def register_routes():
    routes = []
    for module in FEATURE_MODULES:
        routes.extend(getattr(module, "ROUTES", []))
    return routes


@hookimpl
def extra_template_vars(datasette):
    return {"payerkb_links": [
        (label, path) for module in FEATURE_MODULES for label, path in getattr(module, "NAV_LINKS", [])
    ]}


@hookimpl
def asgi_wrapper(datasette):
    """Safe headers (Content-Security-Policy ...) and no 500 on a POST (payerkb/web/security.py)."""
    return security.middleware(datasette)


@hookimpl
def skip_csrf(datasette, scope):
    """POST /-/check is a read-only computation called by other programs: no CSRF token needed."""
    return scope["type"] == "http" and scope["path"] in ("/-/check", "/-/check.json")
