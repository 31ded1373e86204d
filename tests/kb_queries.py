"""Reading the built knowledge base in tests: rows by SQL, one rule, a rule's source URLs, a canned query."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def rule(db: Path, rule_id: str) -> dict:
    found = rows(db, "select * from rules where id = ?", rule_id)
    assert found, f"no rule {rule_id}"
    return found[0]


def urls(db: Path, rule_id: str) -> set[str]:
    """The URLs of the sources a rule cites."""
    return {r["url"] for r in rows(
        db, "select s.url from rule_sources rs join sources s on s.id = rs.source_id where rs.rule_id = ?", rule_id)}


async def canned(ds, name: str, **params) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    r = await ds.client.get(f"/payerkb/{name}.json?_shape=array&{qs}")
    assert r.status_code == 200, r.text[:300]
    return r.json()
