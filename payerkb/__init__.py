"""payerkb: the knowledge base's CLI, search, claim check and Datasette plugin.

The package itself is the Datasette plugin entry point (see pyproject.toml), so that Datasette
serves payerkb/templates/ and payerkb/static/; the hooks live in payerkb/plugin.py.
"""
from payerkb.plugin import asgi_wrapper, extra_template_vars, register_routes, skip_csrf  # noqa: F401
