"""The few things Datasette 0.65 (the pin) and Datasette 1.0 spell differently, one function each,
so the rest of payerkb/web/ reads the same on both (the second test run in .ci/run checks 1.0)."""
from __future__ import annotations

from payerkb.datasette_config import reads_config as datasette_1  # the one test of the version


def configured(datasette, key: str):
    """An instance-wide option such as extra_css_urls: metadata in 0.65, configuration in 1.0."""
    if callable(getattr(datasette, "metadata", None)):
        return datasette.metadata(key)
    return (getattr(datasette, "config", None) or {}).get(key)


async def canned_query(datasette, database: str, name: str, actor=None) -> dict | None:
    """The canned query `name` of `database` as 0.65's dict (sql, title, write, ...), or None.
    1.0 keeps canned queries as stored queries in its internal database."""
    if hasattr(datasette, "get_canned_queries"):
        return (await datasette.get_canned_queries(database, actor)).get(name)
    stored = await datasette.get_query(database, name)
    if stored is None:
        return None
    return {"name": stored.name, "sql": stored.sql, "title": stored.title, "description": stored.description,
            "description_html": stored.description_html, "hide_sql": stored.hide_sql,
            "params": stored.parameters, "write": stored.is_write}


def resource_permissions(datasette) -> bool:
    """Does this Datasette ask permissions of resources (1.0: `allowed(action=, resource=)`) rather
    than of (action, resource tuple) pairs (0.65: `permission_allowed`)?"""
    return datasette_1()


def answers_every_method() -> bool:
    """Does Datasette answer any method on its own pages without a 500? 0.65 answers a POST to a
    table, to /-/messages or to a read-only canned query with a 500 (so payerkb/web/security.py
    answers 405 first); 1.0 answers 405 or 400 itself, and its write API takes POSTs."""
    return datasette_1()


async def ensure_query_visible(datasette, actor, database: str, name: str) -> None:
    """Raise Forbidden unless `actor` may see canned query `name`: 0.65's cascade (view-query,
    view-database, view-instance), or 1.0's view-query on the query resource."""
    if datasette_1():
        from datasette.resources import QueryResource

        await datasette.ensure_permission(action="view-query", resource=QueryResource(database, name), actor=actor)
        return
    await datasette.ensure_permissions(actor, [("view-query", (database, name)), ("view-database", database), "view-instance"])
