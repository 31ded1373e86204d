"""A bounded load test on 127.0.0.1: lookup, smart search and claim check under concurrent clients.

(`python -m benchmarks.loadtest` is its command line; tests/attack/test_attack_load.py runs a short one.)

Starts `payerkb serve`'s Datasette on a free loopback port, probes each endpoint once (one that
answers 404/405 is not built yet and is reported as skipped), then runs `clients` threads that
share the endpoints round-robin until `seconds` pass or `max_requests` are sent, whichever comes
first. Any answer other than 200, and any connection error or timeout, counts as an error.

With `hostile=N`, N of the clients send the attack corpus instead (SQL memory bombs, bad page
numbers, JSON nested 1,000 deep, an oversized body, methods nothing answers) in a loop: each must
be answered with a 4xx, and the server's resident memory is sampled throughout.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from payerkb.dev import server

SEARCH_QUERIES = ["invoice", "prior auth J3590", "NDC format", "wac pricing", "JZ modifier",
                  "precertification", "narrative item 19", "units", "invoce over 500", "acquisition cost",
                  "medicaid invoice threshold", "blue cross narrative", "jw discarded drug", "awp percent"]
TOPIC_WORDS = ["invoice", "prior authorization", "pricing", "ndc", "narrative", "units", "modifiers"]


@dataclass
class Endpoint:
    name: str
    method: str
    requests: list[tuple[str, bytes | None]]  # (path, body) pairs, used in turn
    headers: dict = field(default_factory=dict)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few errors, for the report

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 3:
            self.samples.append(what)


def lookup_paths(db_path: Path, code: str = "J3590", limit: int = 50) -> list[str]:
    """Lookup URLs (the rules_for_payer_and_code canned query) for up to `limit` payers that have
    a rule covering `code`."""
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        payers = [r[0] for r in conn.execute(
            "select distinct r.payer_id from rules r join rule_codes rc on rc.rule_id = r.id "
            "where rc.code = ? order by r.payer_id limit ?", (code, limit))]
    finally:
        conn.close()
    if not payers:
        raise RuntimeError(f"{db_path}: no payer has a rule for {code}")
    return [f"/payerkb/rules_for_payer_and_code.json?payer={p}&code={code}&_shape=array" for p in payers]


def _payers(db_path: Path, limit: int = 20) -> list[str]:
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        return [r[0] for r in conn.execute("select id from payers order by id limit ?", (limit,))]
    finally:
        conn.close()


def _search_queries(db_path: Path) -> list[str]:
    """Fixed queries plus, per payer, its name or a state with a topic: many different terms, so
    the index's term caches do not answer every request."""
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        rows = conn.execute("select name, states from payers order by id limit 200").fetchall()
    finally:
        conn.close()
    queries = list(SEARCH_QUERIES)
    for i, (name, states) in enumerate(rows):
        state = (json.loads(states or "[]") or ["TX"])[0]
        queries.append(f"{name} {TOPIC_WORDS[i % len(TOPIC_WORDS)]}" if i % 2 else f"{state} {TOPIC_WORDS[i % len(TOPIC_WORDS)]}")
    return queries


HOSTILE: list[tuple[str, str, bytes | None, dict]] = [
    ("GET", "/payerkb.json?sql=select+randomblob(1000000000)", None, {}),
    ("GET", "/payerkb.json?sql=select+length(zeroblob(1000000000))", None, {}),
    ("GET", "/payerkb.json?sql=select+length(replace(hex(zeroblob(5000000)),'0','0000000000'))", None, {}),
    ("GET", "/-/changes.json?page=%C2%B2", None, {}),
    ("GET", "/-/codes/J3590.json?page=9223372036854775807", None, {}),
    ("POST", "/-/check", b"[" * 1000 + b"]" * 1000, {"Content-Type": "application/json"}),
    ("POST", "/-/check", b"{" + b" " * 400_000 + b"}", {"Content-Type": "application/json"}),
    ("POST", "/payerkb/rules", b"x=1", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("PUT", "/-/check", b"{}", {"Content-Type": "application/json"}),
]


def endpoints(db_path: Path) -> list[Endpoint]:
    payers = _payers(db_path)
    search = [(f"/-/search.json?{urllib.parse.urlencode({'q': q})}", None) for q in _search_queries(db_path)]
    check = [(
        "/-/check",
        json.dumps({"payer_id": p, "date_of_service": "2026-01-15", "setting": "professional",
                    "hcpcs": "J3590", "units": 1, "ndc": "00002-7510-01",
                    "narrative": "Synthetic biologic 100 mg IV, NDC 00002751001"}).encode(),
    ) for p in payers]
    return [
        Endpoint("lookup", "GET", [(p, None) for p in lookup_paths(db_path)]),
        Endpoint("search", "GET", search),
        Endpoint("check", "POST", check, {"Content-Type": "application/json"}),
    ]


def probe(port: int, endpoint: Endpoint) -> str | None:
    """None when the endpoint answers 200; else why it is skipped (not built yet) or broken."""
    path, body = endpoint.requests[0]
    status, text = server.request(port, endpoint.method, path, body, endpoint.headers)
    if status in (404, 405):
        return f"not served yet ({status} from {endpoint.method} {path.split('?')[0]})"
    if status != 200:
        raise RuntimeError(f"{endpoint.name}: {endpoint.method} {path} answered {status}: {text[:300]!r}")
    return None


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def load(port: int, active: list[Endpoint], clients: int, seconds: float, max_requests: int,
         hostile: int = 0, pid: int | None = None) -> tuple[dict, float]:
    tallies = {e.name: Tally() for e in active}
    if hostile:
        tallies["hostile"] = Tally()
    lock = threading.Lock()
    sent = [0]
    deadline = time.monotonic() + seconds
    memory: list[float] = []

    def sampler() -> None:
        while time.monotonic() < deadline and pid:
            value = server.rss_mb(pid)
            if value is not None:
                memory.append(value)
            time.sleep(0.2)

    def attacker(i: int) -> None:
        conn = server.Connection(port, timeout=30)
        n = i
        while time.monotonic() < deadline:
            method, path, body, headers = HOSTILE[n % len(HOSTILE)]
            n += 1
            started = time.perf_counter()
            try:
                status, text = conn.fetch(method, path, body, headers)
            except OSError as exc:
                with lock:
                    tallies["hostile"].error(f"{method} {path[:60]}: {exc!r}")
                continue
            with lock:
                if 400 <= status < 500:
                    tallies["hostile"].latencies.append(time.perf_counter() - started)
                else:
                    tallies["hostile"].error(f"{status} {method} {path[:60]}: {text[:120]!r}")
        conn.close()

    def client(i: int) -> None:
        conn = server.Connection(port, timeout=30)
        n = i
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            endpoint = active[n % len(active)]
            path, body = endpoint.requests[(n // len(active)) % len(endpoint.requests)]
            n += 1
            started = time.perf_counter()
            try:
                status, text = conn.fetch(endpoint.method, path, body, endpoint.headers)
            except OSError as exc:
                with lock:
                    tallies[endpoint.name].error(f"{path}: {exc!r}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    tallies[endpoint.name].latencies.append(elapsed)
                else:
                    tallies[endpoint.name].error(f"{status} {path}: {text[:200]!r}")
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=attacker if i < hostile else client, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if memory:
        tallies["_memory"] = memory
    return tallies, time.monotonic() - started


def run(db_path: Path, clients: int = 16, seconds: float = 30, max_requests: int = 50_000,
        hostile: int = 0) -> dict:
    """Serve db_path as `payerkb serve` does and load it; per endpoint: counts, errors, latencies;
    with `hostile` attacking clients, also their tally and the server's peak memory."""
    db_path = Path(db_path)
    port = server.free_port()
    with server.running(server.payerkb_command(db_path, port), port) as url:
        eps = endpoints(db_path)
        skipped = {e.name: why for e in eps if (why := probe(port, e))}
        active = [e for e in eps if e.name not in skipped]
        tallies, wall = (load(port, active, clients, seconds, max_requests, hostile, getattr(url, "pid", None))
                         if active else ({}, 0.0))
    memory = tallies.pop("_memory", [])
    result = {"clients": clients, "hostile_clients": hostile, "seconds": wall, "endpoints": {},
              "server_rss_mb_peak": max(memory) if memory else None,
              "server_rss_mb_start": memory[0] if memory else None}
    if hostile:
        t = tallies.pop("hostile")
        result["hostile"] = {"requests": len(t.latencies) + t.errors, "answered_4xx": len(t.latencies),
                             "errors": t.errors, "error_samples": t.samples}
    for e in eps:
        if e.name in skipped:
            result["endpoints"][e.name] = {"skipped": skipped[e.name]}
            continue
        t = tallies[e.name]
        ms = [x * 1000 for x in t.latencies]
        result["endpoints"][e.name] = {
            "requests": len(ms) + t.errors, "errors": t.errors, "error_samples": t.samples,
            "rps": (len(ms) + t.errors) / wall if wall else 0.0,
            "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms, default=float("nan")),
        }
    return result
