"""The Atom 1.0 feed of /-/changes (RFC 4287), written with ElementTree so every value is escaped."""
from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

from payerkb.web.pages_labels import CHANGE_KIND_LABELS, label

ATOM = "http://www.w3.org/2005/Atom"
# Entry ids are derived from the change itself, so a rebuild that renumbers the changes table
# does not make feed readers show old entries again.
ID_NAMESPACE = uuid.UUID("6f1b8f0e-4a43-4f0e-9a7e-2f6d1c5b9a10")


def rfc3339(value: str | None) -> str:
    """'2026-01-05' or '2026-01-05T10:00:00[+00:00]' -> an RFC 3339 timestamp in UTC."""
    if not value:
        return "1970-01-01T00:00:00Z"
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_id(change: dict) -> str:
    key = "|".join(str(change.get(k) or "") for k in
                   ("changed_at", "kind", "payer_id", "rule_id", "source_id", "url", "title", "detail"))
    return uuid.uuid5(ID_NAMESPACE, key).urn


def _title(change: dict) -> str:
    """The change's own title (the build writes one naming the payer); else kind and payer."""
    if change.get("title"):
        return change["title"]
    words = [label(CHANGE_KIND_LABELS, change.get("kind")), change.get("payer_name") or change.get("payer_id")]
    return ": ".join(w for w in words if w)


def atom_feed(changes: list[dict], feed_url: str, page_url: str, base_url: str) -> bytes:
    """changes newest first; URLs absolute when base_url is the configured public URL, else relative.
    Returns the feed as UTF-8 XML."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    # an Atom id must be an absolute IRI; with no public_url configured the links are relative
    sub(feed, "id", feed_url if "://" in feed_url else uuid.uuid5(ID_NAMESPACE, feed_url).urn)
    sub(feed, "title", "payerkb: what changed")
    sub(feed, "subtitle", "Rules added, changed or removed, rules taking effect, and source pages "
                          "that changed, in the payerkb knowledge base of NOC drug claim rules.")
    sub(feed, "updated", max((rfc3339(c.get("changed_at")) for c in changes), default=rfc3339(None)))
    sub(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = sub(feed, "author")
    sub(author, "name", "payerkb")
    for change in changes:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(change))
        sub(entry, "title", _title(change))
        sub(entry, "updated", rfc3339(change.get("changed_at")))
        link = change.get("url") or change.get("payer_path") or page_url
        if link.startswith("/"):
            link = base_url + link
        sub(entry, "link", rel="alternate", href=link)
        if change.get("kind"):
            sub(entry, "category", term=change["kind"])
        if change.get("detail"):
            sub(entry, "summary", change["detail"])
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
