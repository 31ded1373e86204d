"""The load test's command line (payerkb/dev/load.py runs it): lookup, smart search and claim
check under concurrent clients on 127.0.0.1, optionally with hostile clients.

    python -m benchmarks.loadtest --db db/payerkb.db --clients 16 --seconds 30
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from payerkb.dev.load import run


@click.command()
@click.option("--db", "db_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("db/payerkb.db"), show_default=True)
@click.option("--clients", type=click.IntRange(1, 64), default=16, show_default=True)
@click.option("--seconds", type=click.FloatRange(1, 600), default=30, show_default=True)
@click.option("--max-requests", type=click.IntRange(1), default=50_000, show_default=True)
@click.option("--hostile", type=click.IntRange(0, 64), default=0, show_default=True,
              help="How many of the clients send the attack corpus instead of ordinary requests.")
def main(db_path: Path, clients: int, seconds: float, max_requests: int, hostile: int):
    """Load-test lookup, search and check on 127.0.0.1; exit 1 if any request failed."""
    result = run(db_path, clients, seconds, max_requests, hostile)
    click.echo(json.dumps(result, indent=2))
    if any(e.get("errors") for e in result["endpoints"].values()) or (result.get("hostile") or {}).get("errors"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
