"""`payerkb scrape`: run the web scrapers (live, or offline from the cache and shipped fixtures)."""
from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import click

from payerkb.settings import DEFAULT_POLICIES
from scrapers import registry
from scrapers.fetch import DEFAULT_CACHE
from scrapers.run import make_fetcher, run


def _progress_factory():
    @contextlib.contextmanager
    def progress(spec):
        with click.progressbar(length=max(1, len(spec.pages)), label=f"{spec.name:<30}",
                               file=sys.stderr, show_pos=True) as bar:
            def tick(n=1, total=None):
                if total and total != bar.length:
                    bar.length = total
                bar.update(n)
            yield tick
            bar.update(bar.length - bar.pos)
    return progress


def _table(reports) -> str:
    head = ("source", "fetched", "changed", "rules", "documents", "status")
    rows = [head] + [(r.name, str(r.fetched), str(r.changed), str(r.rules), str(r.documents),
                      r.status + (" (fixture)" if r.fixture and r.ok else "")) for r in reports]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    line = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) if i < 5 else c  # noqa: E731
                                 for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([line(rows[0]), line(tuple("-" * w for w in widths))] + [line(r) for r in rows[1:]])


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--offline", is_flag=True,
              help="No network: answer from the on-disk cache, else from the shipped fixture pages.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write into. Default: <policies>/scraped live; a new temporary folder offline.")
@click.option("--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_POLICIES, show_default=True,
              help="The policies folder whose payers, codes and claim fields scraped records must use.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_CACHE, show_default=True, help="On-disk cache of raw responses.")
@click.option("--list", "list_only", is_flag=True, help="List the sources and exit.")
def scrape(sources, offline, out_dir, policies_dir, cache_dir, list_only):
    """Fetch payer and CMS pages and write what they say into policies/scraped/.

    SOURCES are names from the registry (all when none given; see --list). Each source writes
    <out>/<source>.yml (rules, status needs_review) or <out>/records/<source>.yml (documents,
    coverage articles), and every fetch is appended to <out>/fetch-log.jsonl.

    A source that fails, or finds nothing, keeps its last good files and makes the command exit
    with status 1. Records made from offline fixture pages are never written into policies/scraped/.

    \b
    Examples:
      payerkb scrape --list
      payerkb scrape palmetto-gba noridian-je
      payerkb scrape --offline --out /tmp/scraped
    """
    if list_only:
        for spec in registry.SOURCES:
            click.echo(f"{spec.name:<30} {spec.kind:<13} {spec.description}")
        return
    unknown = [s for s in sources if s not in registry.BY_NAME]
    if unknown:
        raise click.BadParameter(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(registry.BY_NAME)}",
                                 param_hint="SOURCES")
    if out_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="payerkb-scrape-")) if offline else policies_dir / "scraped"
        if offline:
            click.echo(f"offline run: writing into {out_dir}", err=True)
    try:
        fetcher = make_fetcher(offline=offline, out_dir=out_dir, cache_dir=cache_dir)
    except ValueError as exc:  # a damaged fetch log: say where, change nothing
        raise click.ClickException(str(exc)) from None
    reports = run(list(sources), out_dir=out_dir, policies_dir=policies_dir, fetcher=fetcher,
                  progress=_progress_factory())
    click.echo(_table(reports))
    for r in reports:
        for warning in r.warnings:
            click.echo(f"  {r.name}: {warning}", err=True)
        if not r.ok:
            click.secho(f"  {r.name} FAILED: {r.message}", fg="red", err=True)
    click.echo(f"written into {out_dir}")
    if any(not r.ok for r in reports):
        sys.exit(1)
