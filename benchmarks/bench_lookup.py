"""Lookup throughput: a payer's rules for one code through payerkb, against bare Datasette.

payerkb side: the `rules_for_payer_and_code` canned query as JSON, served exactly as `payerkb serve`
serves it. Baseline: bare Datasette (no plugins, no metadata, default settings) serving a one-row
table added to a copy of the same database file. Both run at once on 127.0.0.1 and are measured in
alternating rounds with the same client (several threads, keep-alive connections, a fixed number of
requests per round); the ratio of the median rounds is reported. Target: ratio >= 0.8.
A stricter baseline is measured too: bare Datasette running `select * from` the one-row table as
an arbitrary SQL query (a table page also counts rows and looks for facets; a query does not),
and, on payerkb's server, the canned query's own SQL sent as ?sql=, which separates the cost of the
query and its rows from the cost of the canned-query machinery, metadata and plugin hooks.
"""
from __future__ import annotations

import json
import shutil
import urllib.parse
import sqlite3
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from payerkb.dev import server
from payerkb.dev.load import lookup_paths

ONE_ROW_PATH = "/payerkb/bench_one_row.json?_shape=array"
ONE_ROW_SQL_PATH = "/payerkb.json?sql=select+*+from+bench_one_row&_shape=array"


def same_sql_paths(lookup: list[str]) -> list[str]:
    """The canned query's own SQL sent as ?sql= for the same payers: what the query costs without
    the canned-query machinery (metadata, plugin hooks)."""
    metadata = yaml.safe_load((server.ROOT / "metadata.yml").read_text())
    sql = metadata["databases"]["payerkb"]["queries"]["rules_for_payer_and_code"]["sql"]
    out = []
    for path in lookup:
        args = dict(urllib.parse.parse_qsl(path.split("?", 1)[1]))
        out.append("/payerkb.json?" + urllib.parse.urlencode({"sql": sql, **args}))
    return out


def one_row_copy(db_path: Path, folder: Path) -> Path:
    """A copy of the database file (same name, so the same URLs) with a one-row table added."""
    copy = folder / db_path.name
    shutil.copyfile(db_path, copy)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("create table bench_one_row (id integer primary key, value text)")
        conn.execute("insert into bench_one_row values (1, 'one row')")
    conn.close()
    return copy


@dataclass
class Run:
    requests: int
    errors: int
    seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def hammer(port: int, paths: list[str], requests: int, threads: int) -> Run:
    """Send `requests` GETs (cycling through `paths`) from `threads` keep-alive clients."""
    errors = [0] * threads
    per_thread = [requests // threads + (1 if i < requests % threads else 0) for i in range(threads)]

    def client(i: int) -> None:
        conn = server.Connection(port)
        for n in range(per_thread[i]):
            try:
                status, _ = conn.fetch("GET", paths[(i + n * threads) % len(paths)])
                if status != 200:
                    errors[i] += 1
            except OSError:
                errors[i] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return Run(requests, sum(errors), time.perf_counter() - started)


def _check(port: int, path: str, want_rows: bool) -> None:
    status, body = server.request(port, "GET", path)
    rows = json.loads(body) if status == 200 else None
    if status != 200 or not isinstance(rows, list) or (want_rows and not rows):
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")


def measure_lookup(db_path: Path, requests: int = 1500, threads: int = 8, rounds: int = 3) -> dict:
    """Median requests/second of payerkb's lookup and of bare Datasette's one-row table, and the ratio."""
    db_path = Path(db_path)
    paths = lookup_paths(db_path)
    with tempfile.TemporaryDirectory(prefix="payerkb-bench-") as tmp:
        copy = one_row_copy(db_path, Path(tmp))
        ours_port, bare_port = server.free_port(), server.free_port()
        with server.running(server.payerkb_command(db_path, ours_port), ours_port), \
                server.running(server.bare_command(copy, bare_port), bare_port):
            _check(ours_port, paths[0], want_rows=True)
            _check(bare_port, ONE_ROW_PATH, want_rows=True)
            hammer(ours_port, paths, requests // 5, threads)  # warm up both
            hammer(bare_port, [ONE_ROW_PATH], requests // 5, threads)
            raw = same_sql_paths(paths)
            _check(ours_port, raw[0], want_rows=True)
            ours, bare, bare_sql, ours_raw = [], [], [], []
            for _ in range(rounds):
                bare.append(hammer(bare_port, [ONE_ROW_PATH], requests, threads))
                ours.append(hammer(ours_port, paths, requests, threads))
                bare_sql.append(hammer(bare_port, [ONE_ROW_SQL_PATH], requests, threads))
                ours_raw.append(hammer(ours_port, raw, requests, threads))
    ours_rps = statistics.median(r.rps for r in ours)
    bare_rps = statistics.median(r.rps for r in bare)
    return {
        "payerkb_rps": ours_rps,
        "bare_rps": bare_rps,
        "bare_sql_rps": statistics.median(r.rps for r in bare_sql),
        "payerkb_raw_sql_rps": statistics.median(r.rps for r in ours_raw),
        "ratio": ours_rps / bare_rps if bare_rps else 0.0,
        "errors": sum(r.errors for r in ours + bare + bare_sql + ours_raw),
        "requests": requests,
        "threads": threads,
        "rounds": rounds,
        "payers": len(paths),
    }


if __name__ == "__main__":  # python -m benchmarks.bench_lookup db/payerkb.db
    import sys

    print(json.dumps(measure_lookup(Path(sys.argv[1] if len(sys.argv) > 1 else "db/payerkb.db")), indent=2))
