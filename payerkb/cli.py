"""The `payerkb` command line: validate, build and serve the knowledge base, and ask it things."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from payerkb.settings import (  # noqa: F401 - SERVE_SETTINGS re-exported for older callers
    DEFAULT_DB, DEFAULT_METADATA, DEFAULT_POLICIES, SERVE_SETTINGS, datasette_executable, inspect_path,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="payerkb")
def cli():
    """payerkb: what each US payer requires on claims for drugs billed under HCPCS
    "not otherwise classified" codes (J3590, J3490, C9399, J9999 and siblings).

    Typical use: `payerkb validate`, then `payerkb build`, then `payerkb serve`.
    """


def _report_problems(problems) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    click.secho(f"{len(problems)} problem(s) found.", fg="red", err=True)


@cli.command()
@click.option("--policies", "policies_dir", type=click.Path(path_type=Path), default=DEFAULT_POLICIES,
              show_default=True, help="Folder of policy YAML files.")
def validate(policies_dir: Path):
    """Check every YAML file under policies/ and report problems as FILE:LINE: message.

    Exits 0 when all files are valid, 1 when any problem was found.
    """
    from db.validate import load_policies

    kb, problems = load_policies(policies_dir)
    if problems:
        _report_problems(problems)
        sys.exit(1)
    n_rules = sum(len(p.model.rules) for p in kb.payers) + sum(len(g.model.rules) for g in kb.groups.values())
    click.echo(
        f"ok: {len(kb.payers)} payers, {len(kb.groups)} rule groups, {n_rules} rules written, "
        f"{len(kb.sources)} sources, {len(kb.codes)} codes"
    )


@cli.command()
@click.option("--policies", "policies_dir", type=click.Path(path_type=Path), default=DEFAULT_POLICIES,
              show_default=True, help="Folder of policy YAML files.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="Database file to write (replaced only when the build succeeds).")
def build(policies_dir: Path, out: Path):
    """Validate policies/ and build the SQLite database (and its search index).

    The new database is written beside the old one and renamed into place only when every step
    succeeded: a failed build leaves the previous database as it was.
    """
    from db.build import build as build_database
    from db.errors import BuildError

    try:
        result = build_database(policies_dir, out)
    except BuildError as exc:
        if exc.problems:
            _report_problems(exc.problems)
        click.secho(f"build failed: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(result.summary())


def datasette_command(db: Path, port: int, host: str, metadata: Path) -> list[str]:
    """The datasette command line payerkb serves with (immutable, read-only, with limits)."""
    from payerkb.datasette_config import serve_options  # metadata and settings, as this Datasette reads them

    cmd = [datasette_executable(), "serve", "-i", str(db), "--host", host, "--port", str(port)]
    inspect = inspect_path(db)
    # an inspect file older than the database would show the old table counts: skip it
    if inspect.exists() and inspect.stat().st_mtime >= db.stat().st_mtime:
        cmd += ["--inspect-file", str(inspect)]
    return cmd + serve_options(metadata, SERVE_SETTINGS)


@cli.command()
@click.option("--db", "db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--metadata", type=click.Path(path_type=Path), default=DEFAULT_METADATA, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("-p", "--port", default=8001, show_default=True, type=int)
@click.option("--build/--no-build", "do_build", default=False,
              help="Build the database from policies/ first.")
def serve(db: Path, metadata: Path, host: str, port: int, do_build: bool):
    """Serve the database with Datasette (immutable mode, metadata.yml, the payerkb plugin)."""
    if do_build:
        from db.build import build as build_database
        from db.errors import BuildError

        try:
            click.echo(build_database(DEFAULT_POLICIES, db).summary())
        except BuildError as exc:
            if exc.problems:
                _report_problems(exc.problems)
            click.secho(f"build failed: {exc}", fg="red", err=True)
            if not db.exists():
                sys.exit(1)
            click.echo(f"serving the previous database {db}", err=True)
    if not db.exists():
        click.secho(f"{db} does not exist: run `payerkb build` first.", fg="red", err=True)
        sys.exit(1)
    url = f"http://{host}:{port}/"
    click.echo(f"payerkb is serving {db} on {url}")
    click.echo(f"  try: {url}-/matrix   (every payer x topic, coloured)")
    click.echo(f"       {url}-/search?q=preauth+j3590+blue+cross+texas")
    click.echo(f"       {url}-/codes/J3590")
    click.echo(f"       {url}-/check   (pre-check a claim line)")
    click.echo(f"       {url}payerkb/payers.json?_shape=array")
    sys.stdout.flush()
    cmd = datasette_command(db, port, host, metadata)
    from payerkb.settings import SEARCH_WORKERS_ENV, search_workers_for_serve

    os.environ[SEARCH_WORKERS_ENV] = search_workers_for_serve()
    os.execvp(cmd[0], cmd)


# Commands that live in their own modules, loaded only when called (so `payerkb --help` and
# `payerkb validate` do not import Datasette, Whoosh or numpy): name -> (module, attribute, the
# one-line help `payerkb --help` lists; tests/test_cli.py checks it is the command's own).
LAZY_COMMANDS = {
    "answer": ("payerkb.answer_cmd", "answer_command", "What PAYER requires on a claim for CODE on..."),
    "check": ("payerkb.check_cmd", "check_command", "Check claim lines against the payer's..."),
    "coverage": ("payerkb.coverage", "coverage", "Show, for every payer and topic, whether..."),
    "deploy": ("payerkb.deploy", "deploy", "Serve payerkb in production: inspect file..."),
    "explain": ("payerkb.x12_cmd", "explain_command", "Explain an 835 remittance: for every NOC..."),
    "ingest-cms": ("payerkb.ingest", "ingest_cms", "Parse CMS files (ZIP, CSV, TXT/PRN, XLS,..."),
    "review": ("payerkb.review_cmd", "review_command", "Review scraped drug-rule candidates..."),
    "scrape": ("payerkb.scrape", "scrape", "Fetch payer and CMS pages and write what..."),
    "search": ("payerkb.search_cmd", "search_command", "Search the payer rules the way billing..."),
    "which-code": ("payerkb.check_cmd", "which_code_command", "Which HCPCS code to bill a drug on, and..."),
}


def _lazy_command(name: str) -> click.Command:
    import importlib

    module, attribute, _ = LAZY_COMMANDS[name]
    return getattr(importlib.import_module(module), attribute)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name not in self.commands and name in LAZY_COMMANDS:
            self.add_command(_lazy_command(name), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit=45)))
            else:
                rows.append((name, LAZY_COMMANDS[name][2]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


cli.__class__ = LazyGroup  # the group above was made by @click.group(); give it lazy loading


def main():  # pragma: no cover - console entry point
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
