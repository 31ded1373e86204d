"""Command-line start-up: `measure(db_path)` for benchmarks/run.py.

Wall time of a fresh process for `payerkb --help`, `payerkb validate --help` and `payerkb check` of
one JSON claim line against db_path, median of seven runs each. Target: under 0.5 s.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
LINE = b'{"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1}'


def _median_seconds(args: list[str], stdin: bytes | None = None, runs: int = 7) -> float:
    exe = Path(sys.executable).with_name("payerkb")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(exe), *args], input=stdin, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(db_path: Path) -> list[tuple[str, str]]:
    rows = []
    for label, args, stdin in (
        ("`payerkb --help`", ["--help"], None),
        ("`payerkb validate --help`", ["validate", "--help"], None),
        ("`payerkb check -` of one claim line", ["check", "-", "--db", str(db_path)], LINE),
    ):
        seconds = _median_seconds(args, stdin)
        verdict = "meets" if seconds < TARGET_S else "MISSES"
        rows.append((f"start-up: {label}, median of 7", f"**{seconds:.2f} s** ({verdict} < {TARGET_S} s)"))
    return rows
