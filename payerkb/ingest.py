"""`payerkb ingest-cms FILE...`: add CMS quarterly files downloaded by hand to policies/reference/cms/."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from payerkb.settings import DEFAULT_POLICIES
from scrapers.cms import CMSFileError, KINDS, read_file
from scrapers.cms.kinds import check_quarter
from scrapers.cms.store import ManifestError, save

KIND_CHOICES = ["auto", *KINDS]


@click.command("ingest-cms")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KIND_CHOICES), default="auto", show_default=True,
              help="What the files are; auto tells by their header rows. asp = payment limit file, "
                   "crosswalk = ASP NDC-HCPCS crosswalk, noc-pricing / noc-crosswalk = the NOC files, "
                   "opps = OPPS Addendum B, hcpcs = alpha-numeric HCPCS file, noc-codes = HCPCS NOC list.")
@click.option("--quarter", metavar="YYYYQn",
              help="Quarter of files that show no effective dates and have none in their name "
                   "(e.g. 2026Q2; a year such as 2019 for an annual HCPCS release).")
@click.option("--source-url", help="Where you downloaded the files (default: the CMS page that publishes that kind).")
@click.option("--note", help="A remark stored in the manifest entry (e.g. which update of the file this is).")
@click.option("--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_POLICIES, show_default=True, help="Folder of policy files.")
@click.option("--dry-run", is_flag=True, help="Parse and report, write nothing.")
def ingest_cms(files, kind, quarter, source_url, note, policies_dir, dry_run):
    """Parse CMS files (ZIP, CSV, TXT/PRN, XLS, XLSX) and store them in policies/reference/cms/.

    Each file becomes a normalised CSV per kind and quarter plus an entry in manifest.yml; a new
    quarter is added beside the older ones, the same kind and quarter again replaces its entry.
    Only HCPCS Level II rows are kept. If any file fails to parse nothing is written.
    Run `payerkb build` afterwards to load them into the database.

    Example: payerkb ingest-cms ~/Downloads/april-2026-asp-ndc-hcpcs-crosswalk.zip
    """
    try:
        check_quarter(KINDS.get(kind), quarter)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    parsed, skipped = [], []
    for path in files:
        try:
            result = read_file(path, kind=kind, quarter=quarter)
        except CMSFileError as exc:
            _fail(f"{exc.source}: {exc.problem}", status=2)
        parsed.extend(result.parsed)
        skipped.extend(result.skipped)
    clash = _duplicates(parsed)
    if clash:
        _fail(clash)
    _summary(parsed, skipped)
    if dry_run:
        click.echo("dry run: nothing written")
        return
    folder = policies_dir / "reference" / "cms"
    try:
        save(folder, parsed, source_url=source_url, note=note)
    except (ManifestError, OSError) as exc:
        _fail(f"could not write {folder}: {exc}")
    click.echo(f"wrote {len(parsed)} file(s) to {folder}; run `payerkb build` to load them")


def _fail(message: str, status: int = 1):
    """Exit 2 for a file payerkb cannot read (malformed input), 1 for other failures."""
    click.secho(f"error: {message}; nothing was written", fg="red", err=True)
    sys.exit(status)


def _duplicates(parsed) -> str | None:
    seen = {}
    for p in parsed:
        key = (p.kind, p.quarter)
        if key in seen:
            return f"{seen[key]} and {p.source} are both the {p.kind} file for {p.quarter}; give one of them"
        seen[key] = p.source
    return None


def _summary(parsed, skipped) -> None:
    header = ("file", "kind", "quarter", "effective", "rows", "dropped")
    lines = [header]
    for p in parsed:
        window = f"{p.effective_from or '?'}..{p.effective_to or ''}"
        dropped = ", ".join(f"{n} {k}" for k, n in sorted(p.dropped.items())) or "-"
        lines.append((p.source, p.kind, p.quarter, window, str(p.row_count), dropped))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    for name, why in skipped:
        click.echo(f"skipped {name}: {why}")
