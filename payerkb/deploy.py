"""`payerkb deploy`: ship the built database, its search index and the payerkb plugin to read-only
Datasette replicas (Google Cloud Run, or Fly.io through the datasette-publish-fly plugin), and write
the inspect file a self-hosted replica serves with (scripts/serve-production.sh).

The functions that build command lines are pure so tests can check them without a cloud account.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

from db.search_index import index_root as whoosh_dir
from payerkb.settings import DEFAULT_DB, DEFAULT_METADATA, SERVE_SETTINGS, datasette_executable, inspect_path

DEPLOY_DIR = Path("build/deploy")
TARGETS = {"cloudrun": "--service", "fly": "--app"}


class DeployError(Exception):
    """Something the deploy needs is missing; the message says what and how to get it."""


def inspect_command(db: Path) -> list[str]:
    return [datasette_executable(), "inspect", str(db), "--inspect-file", str(inspect_path(db))]


def wheel_command(out_dir: Path, project: Path = Path(".")) -> list[str]:
    return [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), str(project)]


def extra_options(settings: dict | None = None) -> str:
    """The `datasette serve` settings the replicas run with, for publish's --extra-options."""
    settings = SERVE_SETTINGS if settings is None else settings
    return " ".join(f"--setting {name} {value}" for name, value in settings.items())


def publish_command(target: str, name: str, db: Path, wheel: Path, *, metadata: Path = DEFAULT_METADATA,
                    max_instances: int = 3, version_note: str | None = None) -> list[str]:
    """The `datasette publish` command line that deploys db with payerkb to target.

    - the wheel of payerkb rides in the folder given as --plugins-dir (Datasette loads only .py
      files from it, so nothing there runs as a plugin) and --install installs it in the image;
    - the Whoosh index folder is copied beside the database with --static, where payerkb's search
      looks for it (it is also served read-only at /<db>.whoosh/, which is harmless: open data);
    - datasette publish serves the database immutable with an inspect file it builds in the image.
    """
    if target not in TARGETS:
        raise DeployError(f"target: {target!r} is not one of {', '.join(TARGETS)}")
    index = whoosh_dir(db)
    cmd = [
        datasette_executable(), "publish", target, str(db),
        "--metadata", str(metadata),
        TARGETS[target], name,
        "--plugins-dir", str(wheel.parent),
        "--install", f"plugins/{wheel.name}",
        "--static", f"{index.name}:{index}",
        "--extra-options", extra_options(),
    ]
    if target == "cloudrun":
        cmd += ["--max-instances", str(max_instances), "--memory", "1Gi"]
    if version_note:
        cmd += ["--version-note", version_note]
    return cmd


def check_ready(db: Path, metadata: Path = DEFAULT_METADATA) -> None:
    """Raise DeployError unless the database, its search index and the metadata are there."""
    if not db.is_file():
        raise DeployError(f"{db} does not exist: run `payerkb build` first")
    if not any(whoosh_dir(db).glob("*/_MAIN_*.toc")):  # a Whoosh index's table of contents, one folder a build
        raise DeployError(f"{whoosh_dir(db)}/ holds no search index: run `payerkb build` (it builds both)")
    if not metadata.is_file():
        raise DeployError(f"{metadata} does not exist")


def _git_version() -> str | None:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() or None


@click.group()
def deploy():
    """Serve payerkb in production: inspect file for self-hosted replicas, or publish to the cloud.

    See docs/serving.md. Self-hosted: scripts/serve-production.sh on each replica.
    """


@deploy.command("inspect")
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
def inspect_cmd(db: Path):
    """Write <db>.inspect.json (table counts and hash) that `payerkb serve` starts from.

    Run it after every build: a stale inspect file would show the old counts.
    """
    if not db.is_file():
        raise click.ClickException(f"{db} does not exist: run `payerkb build` first")
    subprocess.run(inspect_command(db), check=True)
    click.echo(f"wrote {inspect_path(db)}")


@deploy.command("publish")
@click.argument("target", type=click.Choice(sorted(TARGETS)))
@click.option("--name", default="payerkb", show_default=True,
              help="Cloud Run service or Fly app to create or replace.")
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--metadata", type=click.Path(path_type=Path), default=DEFAULT_METADATA, show_default=True)
@click.option("--max-instances", default=3, show_default=True, type=int,
              help="Cloud Run: most replicas its load balancer may start.")
@click.option("--dry-run", is_flag=True, help="Build the wheel and print the command, run nothing else.")
def publish(target: str, name: str, db: Path, metadata: Path, max_instances: int, dry_run: bool):
    """Publish the built database, its search index and payerkb to TARGET (cloudrun or fly).

    Needs `gcloud` (cloudrun) or `flyctl` plus `pip install datasette-publish-fly` (fly), logged in.
    """
    try:
        check_ready(db, metadata)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    plugins = DEPLOY_DIR / "plugins"
    shutil.rmtree(plugins, ignore_errors=True)
    plugins.mkdir(parents=True)
    subprocess.run(wheel_command(plugins), check=True)
    wheels = sorted(plugins.glob("payerkb-*.whl"))
    if not wheels:
        raise click.ClickException(f"pip wheel wrote no payerkb wheel into {plugins}")
    cmd = publish_command(target, name, db, wheels[-1], metadata=metadata,
                          max_instances=max_instances, version_note=_git_version())
    click.echo(shlex.join(cmd))
    if not dry_run:
        sys.exit(subprocess.run(cmd).returncode)
