"""A short, bounded hostile load on a real server on 127.0.0.1 (the long one is in `make bench`):
attackers get 4xx answers, benign clients get 200s, and the server's memory stays bounded."""
from __future__ import annotations

from pathlib import Path

import pytest

from payerkb.dev import load

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.mark.slow
def test_hostile_clients_do_not_break_the_server_or_its_memory(built_db, tmp_path):
    db = tmp_path / "payerkb.db"  # the canned-query lookups address the database by this name
    db.write_bytes(built_db.read_bytes())
    from db.search_index import build_search_index
    build_search_index(db)
    result = load.run(db, clients=6, seconds=4, max_requests=3000, hostile=2)
    assert result["hostile"]["requests"] > 0 and result["hostile"]["errors"] == 0, result["hostile"]["error_samples"]
    for name, e in result["endpoints"].items():
        assert "skipped" not in e, (name, e)
        assert e["requests"] > 0 and e["errors"] == 0, (name, e["error_samples"])
    if Path("/proc/self/status").exists():  # memory is read from /proc (Linux; macOS has none)
        assert result["server_rss_mb_peak"] is not None and result["server_rss_mb_peak"] < 1024
