"""`make bench`: run every benchmark once on this machine and write docs/benchmarks.md.

    python -m benchmarks.run                  # shipped policies/ + synthetic 1,000 and 10,000 payers
    python -m benchmarks.run --sizes 200 --loadtest-seconds 5 --out /tmp/bench.md   # a quick try
    python -m benchmarks.run --large 100000 --large-only   # `make bench-100k`: only that section

Every figure in the file comes from the same run: builds (time, peak memory), lookup throughput
against bare Datasette, the search and check developers' measure() functions, and the load test.
"""
from __future__ import annotations

import datetime as dt
import functools
import importlib
import importlib.util
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
import traceback
from importlib.metadata import version
from pathlib import Path

import click

from benchmarks import bench_build, bench_lookup, generate, loadtest

ROOT = Path(__file__).resolve().parent.parent
LOOKUP_TARGET = 0.8


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def machine() -> list[tuple[str, str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    try:
        git = functools.partial(subprocess.run, cwd=ROOT, capture_output=True, text=True, check=True)
        commit = git(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        if git(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip():
            commit += " (with uncommitted changes in the checkout)"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        ("date (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("commit", commit),
        ("CPU", f"{cpu}, {len(os.sched_getaffinity(0))} cores available"),
        ("memory", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("load average at start", load_average()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("Datasette", version("datasette")),
        ("sqlite-utils", version("sqlite-utils")),
    ]


def other_measure(module: str, db_path: Path) -> list[tuple[str, str]]:
    """Rows from another developer's benchmarks/<module>.py measure(db_path), or why there are none."""
    if importlib.util.find_spec(f"benchmarks.{module}") is None:
        return [("-", "not available (benchmarks/%s.py does not exist yet)" % module)]
    try:
        rows = importlib.import_module(f"benchmarks.{module}").measure(db_path)
        return [(str(name), str(value)) for name, value in rows]
    except Exception as exc:  # noqa: BLE001 - the report says what failed instead of losing the run
        traceback.print_exc()
        return [("-", f"failed: {type(exc).__name__}: {exc}"[:300])]


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f}"  # NaN when nothing was measured


def _log(msg: str) -> None:
    click.echo(f"[bench {time.strftime('%H:%M:%S')}] {msg}", err=True)


HOSTILE_P99_MS = 500
HOSTILE_RSS_MB = 1024


def run(sizes: list[int], workdir: Path, loadtest_seconds: float, loadtest_clients: int) -> str:
    started = time.perf_counter()
    info = machine()
    kbs: list[tuple[str, Path, Path]] = [("shipped policies/", ROOT / "policies", workdir / "shipped" / "payerkb.db")]
    gen_rows = []
    for n in sizes:
        _log(f"generating {n} synthetic payers")
        t0 = time.perf_counter()
        tree = generate.generate(n, workdir / f"syn{n}" / "policies")
        gen_rows.append([f"{n:,}", f"{time.perf_counter() - t0:.1f}"])
        kbs.append((f"synthetic, {n:,} payers", tree, workdir / f"syn{n}" / "payerkb.db"))

    build_rows = []
    for label, policies, out in kbs:
        _log(f"building {label}")
        out.parent.mkdir(parents=True, exist_ok=True)
        f = bench_build.build_in_child(policies, out)
        build_rows.append([label, f"{f.payers:,}", f"{f.rules:,}", f"{f.rule_codes:,}",
                           f"{f.seconds:.1f}", f"{f.peak_rss_mb:.0f}", f"{f.db_mb:.1f}"])

    lookup_rows = []
    for label, _, db_path in (kbs[0], kbs[-1]):
        _log(f"lookup throughput on {label}")
        r = bench_lookup.measure_lookup(db_path)
        verdict = "meets" if r["ratio"] >= LOOKUP_TARGET else "MISSES"
        lookup_rows.append([label, f"{r['payerkb_rps']:.0f}", f"{r['bare_rps']:.0f}",
                            f"**{r['ratio']:.2f}** ({verdict} >= {LOOKUP_TARGET})",
                            f"{r['bare_sql_rps']:.0f}", f"{r['payerkb_rps'] / r['bare_sql_rps']:.2f}",
                            f"{r['payerkb_raw_sql_rps']:.0f}", r["errors"]])
        lookup_params = r

    other_rows, seen = [], set()
    for label, _, db_path in kbs[1:]:
        for module, what in (("bench_search", "search"), ("bench_check", "claim check"),
                             ("bench_x12", "837 file check"), ("bench_startup", "command line")):
            _log(f"{what} on {label}")
            for name, value in other_measure(module, db_path):
                if (what, name, value) not in seen:  # rows about a fixed database repeat at each size
                    seen.add((what, name, value))
                    other_rows.append([label, what, name, value])

    load_db = kbs[-1]
    _log(f"load test on {load_db[0]}: {loadtest_clients} clients, {loadtest_seconds:.0f} s")
    load = loadtest.run(load_db[2], clients=loadtest_clients, seconds=loadtest_seconds)
    load_rows = []
    for name, e in load["endpoints"].items():
        if "skipped" in e:
            load_rows.append([name, "skipped: " + e["skipped"], "", "", "", "", "", ""])
        else:
            load_rows.append([name, f"{e['requests']:,}", e["errors"], f"{e['rps']:.0f}", _ms(e["p50_ms"]),
                              _ms(e["p95_ms"]), f"**{_ms(e['p99_ms'])}**", _ms(e["max_ms"])])
    errors = [f"- {name}: {s}" for name, e in load["endpoints"].items() for s in e.get("error_samples", [])]

    hostile_n = 2
    _log(f"hostile load on {load_db[0]}: {loadtest_clients} clients, {hostile_n} of them attacking")
    attack = loadtest.run(load_db[2], clients=loadtest_clients, seconds=loadtest_seconds, hostile=hostile_n)
    attack_rows = []
    for name, e in attack["endpoints"].items():
        if "skipped" not in e:
            verdict = "meets" if e["p99_ms"] <= HOSTILE_P99_MS else "MISSES"
            attack_rows.append([name, f"{e['requests']:,}", e["errors"], _ms(e["p50_ms"]), _ms(e["p95_ms"]),
                                f"**{_ms(e['p99_ms'])}** ({verdict} <= {HOSTILE_P99_MS})"])
    peak = attack["server_rss_mb_peak"]
    h = attack["hostile"]

    total = time.perf_counter() - started
    info.append(("load average at end", load_average()))
    return "\n".join([
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand. Every figure below "
        f"comes from one run on the machine described here, which took {total / 60:.1f} minutes. "
        "Synthetic knowledge bases are written by `python -m benchmarks.generate` (invented payers "
        "and rules over the real reference vocabulary; see that module). The machine may be shared: "
        "a load average above its core count means other work ran at the same time and every time "
        "below is slower than on a quiet machine.",
        "",
        "## Machine",
        "",
        _table(["", ""], [list(r) for r in info]),
        "",
        "## Build",
        "",
        "`payerkb build` (validation, database, every build step and the search index) in a child "
        "process; peak memory is that child's maximum resident set size (`os.wait4`).",
        "",
        _table(["knowledge base", "payers", "rules (with gaps)", "rule_codes", "seconds", "peak RSS (MB)",
                "database (MB)"], build_rows),
        "",
        "Generating the synthetic trees: "
        + ", ".join(f"{n} payers in {s} s" for n, s in gen_rows) + ".",
        "",
        "## Lookup: a payer's rules for one code",
        "",
        "Requests per second of `/payerkb/rules_for_payer_and_code.json?payer=…&code=J3590&_shape=array` "
        f"(cycling through up to {lookup_params['payers']} payers) served as `payerkb serve` serves it, "
        "against bare Datasette (no plugins, no metadata, default settings) serving a one-row table "
        "added to a copy of the same file: `/payerkb/bench_one_row.json?_shape=array`. Both servers run "
        f"on 127.0.0.1 at the same time; {lookup_params['threads']} client threads with keep-alive "
        f"connections send {lookup_params['requests']:,} requests per round, {lookup_params['rounds']} "
        "alternating rounds each, median reported. A stricter baseline is also shown: bare Datasette "
        "answering `?sql=select * from bench_one_row` (a table page also counts rows and looks for "
        "facets; an arbitrary query does not). The last column sends the canned query's own SQL as "
        "`?sql=` to payerkb's server: when it is no faster than the canned query, what separates "
        "payerkb from the one-row baseline is the query and its rows, not metadata or plugin hooks.",
        "",
        _table(["knowledge base", "payerkb lookup (req/s)", "bare one-row table (req/s)",
                f"ratio (target >= {LOOKUP_TARGET})", "bare one-row SQL query (req/s)", "ratio to that",
                "payerkb, same SQL as ?sql= (req/s)", "errors"], lookup_rows),
        "",
        "## Search, claim check and 837 files",
        "",
        "From `benchmarks/bench_search.py`, `benchmarks/bench_check.py` and `benchmarks/bench_x12.py` "
        "(`measure(db_path)`, written by the search, check and X12 developers), on the synthetic knowledge "
        "bases. A row that names the "
        "shipped policies/ is measured on that database whatever the size, and is shown once.",
        "",
        _table(["knowledge base", "feature", "metric", "value"], other_rows),
        "",
        "## Load test",
        "",
        f"`python -m benchmarks.loadtest`: {load['clients']} concurrent clients on 127.0.0.1 for "
        f"{load['seconds']:.0f} s against {load_db[0]}, sharing the endpoints round-robin (lookup: the "
        "canned query above; search: `GET /-/search.json?q=…`; check: `POST /-/check` with a JSON claim "
        "line). Any answer but 200 is an error. Latencies in milliseconds; an endpoint that answers "
        "404 is not built yet and is skipped.",
        "",
        _table(["endpoint", "requests", "errors", "req/s", "p50", "p95", "p99", "max"], load_rows),
        *(["", "First errors seen:", "", *errors] if errors else []),
        "",
        "## Hostile load",
        "",
        f"The same load test with {hostile_n} of the {attack['clients']} clients sending the attack corpus "
        "of `benchmarks/loadtest.py` (`HOSTILE`: SQL memory bombs such as `randomblob(1000000000)`, "
        "page numbers that used to give 500s, JSON nested 1,000 deep, a 400 KB body, methods nothing "
        f"answers) in a loop for {attack['seconds']:.0f} s. Each attack must be answered with a 4xx: "
        f"{h['answered_4xx']:,} of {h['requests']:,} were ({h['errors']} otherwise). The server's resident "
        f"memory was sampled every 0.2 s: {attack['server_rss_mb_start'] or 0:.0f} MB at the start, "
        f"**{peak or 0:.0f} MB at its peak** ({'meets' if (peak or 0) < HOSTILE_RSS_MB else 'MISSES'} "
        f"< {HOSTILE_RSS_MB} MB). Benign requests:",
        "",
        _table(["endpoint", "requests", "errors", "p50", "p95", "p99 (ms)"], attack_rows),
        "",
    ])


LARGE_HEADING = "## Large scale"
LARGE_PAGES = ("/-/matrix", "/-/payers", "/-/codes", "/-/codes/J3590")
PAGE_LIMIT_BYTES = 1_000_000
SEARCH_P95_LARGE_MS = 200


def page_sizes(db_path: Path) -> list[list[str]]:
    """Status, bytes and time of the first page of each of LARGE_PAGES, served as `payerkb serve` serves them."""
    from payerkb.dev import server

    rows = []
    port = server.free_port()
    with server.running(server.payerkb_command(db_path, port), port, timeout=600):
        for path in LARGE_PAGES:
            t0 = time.perf_counter()
            status, body = server.request(port, "GET", path, timeout=600)
            ms = (time.perf_counter() - t0) * 1000
            verdict = "meets" if status == 200 and len(body) < PAGE_LIMIT_BYTES else "MISSES"
            rows.append([f"`{path}`", status, f"{len(body):,}", f"**{len(body) / 1e6:.2f} MB** ({verdict} < 1 MB)",
                         f"{ms:.0f}"])
    return rows


def _attempt(what: str, fn):
    """fn()'s result, or the reason it failed (the section says so instead of losing the run)."""
    _log(what)
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        return None, f"{what} failed: {type(exc).__name__}: {exc}"[:400]


def large_scale(n: int, workdir: Path) -> str:
    """The section of docs/benchmarks.md for a large synthetic knowledge base (`make bench-100k`)."""
    started = time.perf_counter()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    commit = dict(machine())["commit"]
    load_start = load_average()
    t0 = time.perf_counter()
    tree = generate.generate(n, workdir / f"syn{n}" / "policies")
    gen_s = time.perf_counter() - t0
    out = workdir / f"syn{n}" / "payerkb.db"
    lines = [
        f"{LARGE_HEADING}: {n:,} payers",
        "",
        f"Written by `make bench-100k` (`python -m benchmarks.run --large {n} --large-only`), which replaces "
        "only this section; a full `make bench` keeps it as it was. Measured on "
        f"{when} UTC at commit {commit}, load average {load_start} at the start. Generating the tree took "
        f"{gen_s:.0f} s.",
        "",
    ]
    build, failed = _attempt(f"building {n:,} payers", lambda: bench_build.build_in_child(tree, out))
    if failed:
        return "\n".join(lines + [failed, ""])
    lines += [
        _table(["payers", "rules (with gaps)", "rule_codes", "build seconds", "peak RSS (MB)", "database (MB)"],
               [[f"{build.payers:,}", f"{build.rules:,}", f"{build.rule_codes:,}", f"**{build.seconds:.0f}**",
                 f"**{build.peak_rss_mb:.0f}**", f"{build.db_mb:.0f}"]]),
        "",
    ]
    lookup, failed = _attempt(f"lookup throughput at {n:,} payers", lambda: bench_lookup.measure_lookup(out))
    if lookup:
        verdict = "meets" if lookup["ratio"] >= LOOKUP_TARGET else "MISSES"
        lines += [
            "Lookup (the canned query of the lookup section above, against bare Datasette's one-row table):",
            "",
            _table(["payerkb lookup (req/s)", "bare one-row table (req/s)", f"ratio (target >= {LOOKUP_TARGET})", "errors"],
                   [[f"{lookup['payerkb_rps']:.0f}", f"{lookup['bare_rps']:.0f}",
                     f"**{lookup['ratio']:.2f}** ({verdict} >= {LOOKUP_TARGET})", lookup["errors"]]]),
            "",
        ]
    else:
        lines += [failed, ""]

    def search():
        from benchmarks import bench_search

        return bench_search.latency_rows(out, f"{n:,} payers", SEARCH_P95_LARGE_MS)

    rows, failed = _attempt(f"search latency at {n:,} payers", search)
    lines += ["Search (`benchmarks/bench_search.py`, target p95 < 200 ms):", "",
              _table(["metric", "value"], [list(r) for r in rows]) if rows else failed, ""]
    pages, failed = _attempt(f"page sizes at {n:,} payers", lambda: page_sizes(out))
    lines += ["First pages of the list and matrix pages, as `payerkb serve` serves them (target < 1 MB each):", "",
              _table(["page", "status", "bytes", "size", "ms"], pages) if pages else failed, ""]
    lines += [f"This section took {(time.perf_counter() - started) / 60:.1f} minutes; load average at its end "
              f"{load_average()}.", ""]
    return "\n".join(lines)


def splice_large(report: str, section: str | None) -> str:
    """`report` with its large-scale section replaced by `section` (added at the end if it had none;
    removed when `section` is None)."""
    start = report.find(f"\n{LARGE_HEADING}")
    head, tail = (report, "") if start < 0 else (report[:start + 1], report[start + 1:])
    if tail:
        nxt = tail.find("\n## ", 1)
        tail = "" if nxt < 0 else tail[nxt + 1:]
    body = head.rstrip("\n") + "\n"
    if section:
        body += "\n" + section.rstrip("\n") + "\n"
    if tail:
        body += "\n" + tail
    return body


def _existing_large(out: Path) -> str | None:
    if not out.exists():
        return None
    text = out.read_text(encoding="utf-8")
    start = text.find(f"\n{LARGE_HEADING}")
    if start < 0:
        return None
    section = text[start + 1:]
    nxt = section.find("\n## ", 1)
    return section if nxt < 0 else section[:nxt + 1]


@click.command()
@click.option("--sizes", default="1000,10000", show_default=True,
              help="Synthetic knowledge base sizes (payers), comma-separated.")
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "docs" / "benchmarks.md",
              show_default="docs/benchmarks.md")
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Where to write synthetic trees and databases (default: a temporary folder, removed after).")
@click.option("--loadtest-seconds", type=click.FloatRange(1, 600), default=30, show_default=True)
@click.option("--loadtest-clients", type=click.IntRange(1, 64), default=16, show_default=True)
@click.option("--large", type=click.IntRange(min=1), default=None, envvar="PAYERKB_BENCH_LARGE",
              help="Also measure a large synthetic knowledge base of this many payers (build time and peak "
                   "memory, lookup ratio, search p95, page sizes) [env PAYERKB_BENCH_LARGE].")
@click.option("--large-only", is_flag=True,
              help="Measure only the --large knowledge base and replace its section of --out, keeping the rest.")
def main(sizes: str, out: Path, workdir: Path | None, loadtest_seconds: float, loadtest_clients: int,
         large: int | None, large_only: bool):
    """Run the benchmarks and write docs/benchmarks.md."""
    if large_only and not large:
        raise click.BadParameter("give the size with --large N", param_hint="--large-only")
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {sizes!r}", param_hint="--sizes")
    if not size_list or min(size_list) < 1:
        raise click.BadParameter("give at least one size of 1 or more", param_hint="--sizes")
    with tempfile.TemporaryDirectory(prefix="payerkb-bench-") as tmp:
        work = workdir or Path(tmp)
        section = large_scale(large, work) if large else _existing_large(out)
        if large_only:
            report = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n"
        else:
            report = run(size_list, work, loadtest_seconds, loadtest_clients)
        report = splice_large(report, section)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
