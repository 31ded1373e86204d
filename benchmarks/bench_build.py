"""Build time and peak memory of `payerkb build`, each build in its own child process.

os.wait4() returns the resource usage of exactly that child, so the peak resident set size is the
build's own (validation, database, every build step, the search index), not this process's.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BuildFigures:
    seconds: float
    peak_rss_mb: float
    db_mb: float
    payers: int
    rules: int
    rule_codes: int


def build_in_child(policies: Path, out: Path) -> BuildFigures:
    """Run `payerkb build --policies P --out O` in a child process and measure it."""
    cmd = [sys.executable, "-m", "payerkb.cli", "build", "--policies", str(policies), "--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"build of {policies} failed ({proc.returncode}): {output.decode()[-3000:]}")
    conn = sqlite3.connect(f"file:{out}?immutable=1", uri=True)
    try:
        payers, rules, rule_codes = (conn.execute(f"select count(*) from {t}").fetchone()[0]
                                     for t in ("payers", "rules", "rule_codes"))
    finally:
        conn.close()
    return BuildFigures(
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        db_mb=out.stat().st_size / 1e6,
        payers=payers, rules=rules, rule_codes=rule_codes,
    )


if __name__ == "__main__":  # python -m benchmarks.bench_build policies /tmp/out.db
    print(build_in_child(Path(sys.argv[1]), Path(sys.argv[2])))
