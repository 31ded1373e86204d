"""Where the site lives for the outside world: never taken from the request's Host header.

An operator who wants absolute links (Atom entries, the curl example) sets it in metadata:

    plugins:
      payerkb:
        public_url: https://payerkb.example.org

Without it, links are relative (the Atom feed's entries resolve against the feed's own URL).
"""
from __future__ import annotations

from urllib.parse import urlsplit


def public_base(datasette) -> str | None:
    config = datasette.plugin_config("payerkb") or {}
    url = str(config.get("public_url") or "").rstrip("/")
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None
