"""The feed of what changed, through datasette-atom, and the change rows the /-/changes page shows.

The feed is the canned query `changes_feed` in metadata.yml: its atom_id, atom_updated,
atom_title, atom_link and atom_content_html columns are what datasette-atom turns into Atom at
/payerkb/changes_feed.atom. /-/changes.atom is an alias: the same query answered by the same
renderer (`changes_atom`), so both URLs give the same feed.

payerkb wraps datasette-atom's renderer (`wrap_renderers`, from the register_output_renderer hook
in payerkb/plugin.py), for payerkb's own database only:
- datasette-atom takes the feed's id and self link from request.url, that is from the Host header
  the visitor sent. Here they come from the configured public URL (payerkb/web/public.py), or,
  without one, the self link is the feed's path and its id a urn:uuid made from that path;
- links the query gives as paths (/-/payers/...) are made absolute against the public URL, which
  is also the feed's xml:base for the links inside entries;
- the changes feed gets a subtitle saying what it holds (how many changes of which kinds, dated
  from when to when, and when this database was built) and an alternate link to /-/changes;
- no rows is an empty feed (datasette-atom cannot date one), and the feed is application/atom+xml.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
import xml.etree.ElementTree as ET

from datasette.utils import await_me_maybe, call_with_supported_arguments, tilde_encode
from datasette.utils.asgi import NotFound, Response

import payerkb.web.compat as compat
from payerkb.web.guard import find_database, served_database
from payerkb.web.pages_labels import CHANGE_KIND_LABELS, label
from payerkb.web.public import public_base

FEED_QUERY = "changes_feed"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
ATOM = "http://www.w3.org/2005/Atom"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# feed ids made from a path when no public URL is configured (an Atom id must be an absolute IRI)
ID_NAMESPACE = uuid.UUID("6f1b8f0e-4a43-4f0e-9a7e-2f6d1c5b9a10")


def _tag(name: str) -> str:
    return f"{{{ATOM}}}{name}"


class _PublicRequest:
    """The request as datasette-atom sees it: its url is the public one, never the Host header's."""

    def __init__(self, request, url: str):
        self._request = request
        self.url = url

    def __getattr__(self, name):
        return getattr(self._request, name)


def _empty_feed(title: str) -> ET.Element:
    feed = ET.Element(_tag("feed"))
    for name, text in (("id", ""), ("title", title), ("updated", "1970-01-01T00:00:00Z")):
        ET.SubElement(feed, _tag(name)).text = text
    ET.SubElement(feed, _tag("link"), rel="self")
    return feed


def _absolute(href: str | None, base: str | None) -> str | None:
    return base + href if base and href and href.startswith("/") and not href.startswith("//") else href


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


async def _subtitle(datasette, database: str, rows, request) -> str:
    """What the changes feed holds, said from the rows it holds."""
    db = datasette.get_database(database)
    kind, payer = (request.args.get("kind") or "").strip(), (request.args.get("payer") or "").strip()
    where = " and ".join(["1", *(["kind = :kind"] if kind else []), *(["payer_id = :payer"] if payer else [])])
    tables = set(await db.table_names())
    total = 0
    if "changes" in tables:
        total = (await db.execute(f"select count(*) from changes where {where}", {"kind": kind, "payer": payer})).first()[0]
    built = None
    if "payerkb_build" in tables:
        row = (await db.execute("select built_at from payerkb_build limit 1")).first()
        built = row[0] if row else None
    scope = "".join([f" of kind {label(CHANGE_KIND_LABELS, kind)}" if kind else "",
                     f" for payer {payer}" if payer else ""])
    built_words = f" This database was built {built[:16].replace('T', ' ')} UTC." if built else ""
    if not rows:
        return f"No changes{scope} in the payerkb knowledge base of NOC drug claim rules.{built_words}"
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    dates = sorted(str(row["changed_at"])[:10] for row in rows)
    held = (f"The newest {len(rows):,} of {total:,} changes" if total > len(rows)
            else _plural(len(rows), "change"))
    kinds = ", ".join(f"{label(CHANGE_KIND_LABELS, k)}: {n:,}" for k, n in sorted(counts.items()))
    between = ("" if any(k.startswith("rule_") and k != "rule_effective" for k in counts)
               else " No rule was added, changed or removed between builds in these entries.")
    return (f"{held}{scope} in the payerkb knowledge base of NOC drug claim rules, dated {dates[0]} "
            f"to {dates[-1]} ({kinds}).{between}{built_words}")


def _wrap(render):
    async def render_atom(datasette, request, sql, columns, rows, database, table, query_name, view_name, data):
        def call(req):
            return call_with_supported_arguments(
                render, datasette=datasette, request=req, sql=sql, columns=columns, rows=rows,
                database=database, table=table, query_name=query_name, view_name=view_name, data=data,
                args=req.args)

        kb = await find_database(datasette)
        if kb is None or kb.name != database:  # another database's feed is datasette-atom's own
            return await await_me_maybe(call(request))
        base = public_base(datasette)
        self_url = (base or "") + request.full_path
        if rows:
            response = await await_me_maybe(call(_PublicRequest(request, self_url)))
            if not isinstance(response, Response) or response.status != 200:
                return response
            feed = ET.fromstring(response.body)
        else:
            title = await compat.canned_query(datasette, database, query_name or "") or {}
            feed = _empty_feed(title.get("title") if isinstance(title, dict) and title.get("title") else "payerkb")
        feed.find(_tag("id")).text = self_url if base else uuid.uuid5(ID_NAMESPACE, self_url).urn
        for link in feed.findall(_tag("link")):
            if link.get("rel") == "self":
                link.set("href", self_url)
                link.set("type", "application/atom+xml")
        if base:
            feed.set(XML_BASE, base + "/")
        for entry in feed.findall(_tag("entry")):
            for link in entry.findall(_tag("link")):
                link.set("href", _absolute(link.get("href"), base))
        if query_name == FEED_QUERY:
            position = list(feed).index(feed.find(_tag("title"))) + 1
            subtitle = ET.Element(_tag("subtitle"))
            subtitle.text = await _subtitle(datasette, database, rows, request)
            feed.insert(position, subtitle)
            page = "/-/changes" + (f"?{request.query_string}" if request.query_string else "")
            feed.insert(position + 1, ET.Element(_tag("link"), rel="alternate", type="text/html",
                                                 href=_absolute(page, base)))
        ET.register_namespace("", ATOM)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
        return Response(body, content_type=CONTENT_TYPE)

    return render_atom


def wrap_renderers(results) -> list:
    """The register_output_renderer results with datasette-atom's renderer wrapped (see above)."""
    out = []
    for result in results or []:
        for renderer in (result if isinstance(result, list) else [result]):
            if isinstance(renderer, dict) and renderer.get("extension") == "atom":
                renderer = {**renderer, "render": _wrap(renderer.get("render") or renderer["callback"])}
            out.append(renderer)
    return out


async def changes_atom(request, datasette) -> Response:
    """/-/changes.atom: the changes_feed canned query, rendered as /payerkb/changes_feed.atom is."""
    db = served_database(datasette)
    query = await compat.canned_query(datasette, db.name, FEED_QUERY, request.actor)
    if query is None:
        raise NotFound(f"the feed is the canned query {FEED_QUERY} of metadata.yml, which database "
                       f"{db.name} does not have")
    await compat.ensure_query_visible(datasette, request.actor, db.name, FEED_QUERY)
    params = {"kind": (request.args.get("kind") or "").strip(), "payer": (request.args.get("payer") or "").strip()}
    columns, rows = [], []
    if "changes" in set(await db.table_names()):
        try:
            results = await db.execute(query["sql"], params)
        except sqlite3.Error as exc:  # a changes table from an older build (no `fields` column)
            return Response.text(f"the changes feed cannot be read from this database ({exc}); "
                                 f"build it again with payerkb build", status=400)
        columns, rows = list(results.columns), list(results.rows)
    render = datasette.renderers["atom"][0]
    return await await_me_maybe(call_with_supported_arguments(
        render, datasette=datasette, request=request, sql=query["sql"], columns=columns, rows=rows,
        database=db.name, table=None, query_name=FEED_QUERY, view_name="query", data={}, args=request.args))


async def shape_changes(datasette, changes: list[dict]) -> list[dict]:
    """Each change row as the /-/changes page and its JSON show it: `fields` (old and new value
    of each changed field) as a list, and the paths of the rule's row page (while the rule
    exists) and of the payer's page."""
    db = served_database(datasette)
    rule_ids = sorted({c["rule_id"] for c in changes if c.get("rule_id")})
    existing = set()
    if rule_ids:
        marks = ", ".join("?" * len(rule_ids))
        existing = {r[0] for r in (await db.execute(f"select id from rules where id in ({marks})", rule_ids)).rows}
    for change in changes:
        try:
            fields = json.loads(change.get("fields") or "[]")
        except (TypeError, ValueError):
            fields = []
        change["fields"] = fields if isinstance(fields, list) else []
        rid = change.get("rule_id")
        change["rule_path"] = (datasette.urls.row(db.name, "rules", tilde_encode(rid))
                               if rid in existing else None)
        change["payer_path"] = change.get("payer_path") or (
            f"/-/payers/{change['payer_id']}" if change.get("payer_id") else None)
    return changes
