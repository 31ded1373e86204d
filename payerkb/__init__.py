"""payerkb: the knowledge base's CLI, search, claim check and Datasette plugin.

The package itself is the Datasette plugin entry point (see pyproject.toml), so that Datasette
serves payerkb/templates/ and payerkb/static/; the hooks live in payerkb/plugin.py.
"""
from payerkb.plugin import (  # noqa: F401
    asgi_wrapper, extra_body_script, extra_css_urls, extra_js_urls, extra_template_vars,
    prepare_connection, register_output_renderer, register_routes, render_cell, skip_csrf,
)
