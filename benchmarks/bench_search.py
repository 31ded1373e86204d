"""Search benchmarks: latency of /-/search.json (smart search) and of the FTS5 `search` canned
query through Datasette's test client, the index build time, and relevance (MRR, recall@5) of
both on the queries in tests/fixtures/relevance_queries.yml.

    python -m benchmarks.bench_search db/payerkb.db     # prints the rows measure() returns

benchmarks/run.py calls measure(db_path) for each knowledge base it builds and writes the rows to
docs/benchmarks.md. Relevance needs the real payers, so it is measured on the shipped policies/
(built once into a temporary folder) whatever db_path is; latency is measured on db_path and on
the shipped database, each against its target.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import statistics
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUERIES = yaml.safe_load((ROOT / "tests" / "fixtures" / "relevance_queries.yml").read_text())["queries"]
EXTRA_QUERIES = ["invoice", "prior authorization", "ndc", "j3590", "texas", "units", "jw jz modifiers",
                 "medicaid invoice threshold", "wac", "narrative item 19"]
ROUNDS = 3
P95_TARGET_SHIPPED_MS, P95_TARGET_10K_MS = 50, 200


def _datasette(db_path: Path):
    from datasette.app import Datasette

    from payerkb.cli import SERVE_SETTINGS

    settings = dict(SERVE_SETTINGS, suggest_facets=False)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    return Datasette(immutables=[str(db_path)], metadata=metadata, settings=settings)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _latencies(ds, paths: list[str], refused: list | None = None) -> tuple[float, list[float]]:
    """(first request's ms, every later request's ms). Any answer but 200 fails, unless `refused`
    is given: then (path, status) of such answers are collected there (the FTS5 query can run into
    the SQL time limit on a large knowledge base)."""
    t0 = time.perf_counter()
    first = await ds.client.get(paths[0])  # opens the index: reported on its own
    first_ms = (time.perf_counter() - t0) * 1000
    assert first.status_code == 200 or refused is not None, first.text[:200]
    times = []
    for _ in range(ROUNDS):
        for path in paths:
            t0 = time.perf_counter()
            r = await ds.client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                assert refused is not None, (path, r.status_code)
                refused.append((path, r.status_code))
    return first_ms, times


def latency_rows(db_path: Path, label: str, target_ms: float) -> list[tuple[str, str]]:
    ds = _datasette(db_path)
    db_name = Path(db_path).stem
    words = [item["q"] for item in QUERIES] + EXTRA_QUERIES
    smart = [f"/-/search.json?{urlencode({'q': q})}" for q in words]
    fts = [f"/{db_name}/search.json?_shape=array&{urlencode({'q': q})}" for q in words]

    fts_refused: list = []

    async def run():
        return await _latencies(ds, smart), await _latencies(ds, fts, fts_refused)

    (first, smart_ms), (_, fts_ms) = asyncio.run(run())
    p95 = _percentile(smart_ms, 95)
    verdict = "meets" if p95 < target_ms else "MISSES"
    n = len(smart_ms)
    return [
        (f"/-/search.json p50 / p95 ({label}, {n} requests)",
         f"{statistics.median(smart_ms):.1f} / **{p95:.1f} ms** ({verdict} p95 < {target_ms} ms)"),
        (f"FTS5 canned query p50 / p95 ({label})",
         f"{statistics.median(fts_ms):.1f} / {_percentile(fts_ms, 95):.1f} ms"
         + (f"; {len(fts_refused)} of {len(fts_ms)} answered {sorted({s for _, s in fts_refused})} "
            "(the SQL time limit)" if fts_refused else "")),
        (f"first search after start ({label}; opens the index)", f"{first:.0f} ms"),
    ]


def index_rows(db_path: Path, label: str) -> list[tuple[str, str]]:
    from db.search_index import META_FILE, index_path

    meta_file = index_path(db_path) / META_FILE
    if not meta_file.exists():
        return [(f"search index ({label})", "missing: the build did not write it")]
    meta = json.loads(meta_file.read_text())
    size = sum(p.stat().st_size for p in index_path(db_path).iterdir()) / 1e6
    return [(f"search index build ({label}, {meta['rules']:,} rules)", f"{meta['seconds']:.1f} s, {size:.1f} MB")]


# --- relevance --------------------------------------------------------------------------------


def _first_rank(found, wanted) -> int | None:
    """The rank of the first hit (a set of payer, topic pairs) holding a wanted pair."""
    return next((i for i, pairs in enumerate(found, 1) if pairs & set(wanted)), None)


def relevance(db_path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """{kind or "all": {"smart"|"fts5": (MRR, recall@5)}} on db_path."""
    from payerkb.search import search

    ds = _datasette(db_path)
    db_name = Path(db_path).stem

    async def fts_pairs(q):
        r = await ds.client.get(f"/{db_name}/search.json?_shape=array&{urlencode({'q': q})}")
        return [{(row["payer_id"], row["topic"])} for row in r.json() if row["kind"] == "rule"][:10]

    async def run():
        rows = []
        for item in QUERIES:
            wanted = [tuple(e.split(":")) for e in item["expect"]]
            # a rule several payers share word for word is one hit: its pairs share a rank
            smart = [{(p["payer_id"], h["topic"]) for p in h["payers"]}
                     for h in search(item["q"], db_path, limit=10)["hits"]]
            fts = await fts_pairs(item["q"])
            rows.append((item["kind"], wanted, smart, fts))
        return rows

    rows = asyncio.run(run())
    out = {}
    for kind in ["all"] + sorted({r[0] for r in rows}):
        chosen = [r for r in rows if kind in ("all", r[0])]
        out[kind] = {}
        for engine, col in (("smart", 2), ("fts5", 3)):
            ranks = [_first_rank(r[col], r[1]) for r in chosen]
            mrr = sum(1 / x for x in ranks if x) / len(chosen)
            recall = sum(sum(1 for w in r[1] if w in set().union(*r[col][:5])) / len(r[1])
                         for r in chosen) / len(chosen)
            out[kind][engine] = (mrr, recall)
        out[kind]["n"] = len(chosen)
    return out


@lru_cache(maxsize=1)
def shipped_db() -> Path:
    """The shipped policies/ built once (with its search index) into a temporary folder."""
    from db.build import build

    folder = Path(tempfile.mkdtemp(prefix="payerkb-bench-search-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    out = folder / "payerkb.db"
    build(ROOT / "policies", out)
    return out


@lru_cache(maxsize=1)
def shipped_rows() -> tuple[tuple[str, str], ...]:
    db = shipped_db()
    rows = index_rows(db, "shipped policies/") + latency_rows(db, "shipped policies/", P95_TARGET_SHIPPED_MS)
    for kind, scores in relevance(db).items():
        (s_mrr, s_rec), (f_mrr, f_rec) = scores["smart"], scores["fts5"]
        rows.append((f"relevance, {kind} queries ({scores['n']}): MRR smart / FTS5",
                     f"**{s_mrr:.2f}** / {f_mrr:.2f}"))
        rows.append((f"relevance, {kind} queries ({scores['n']}): recall@5 smart / FTS5",
                     f"**{s_rec:.2f}** / {f_rec:.2f}"))
    return tuple(rows)


def measure(db_path: Path) -> list[tuple[str, str]]:
    db_path = Path(db_path)
    label = "this knowledge base"
    rows = index_rows(db_path, label) + latency_rows(db_path, label, P95_TARGET_10K_MS)
    return rows + list(shipped_rows())


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "db" / "payerkb.db"
    for name, value in measure(target):
        print(f"{name}: {value}")
