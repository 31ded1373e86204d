"""`payerkb review`: list scraped drug-rule candidates, then accept or reject them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from db.validate import load_policies
import payerkb.review as review
from payerkb.settings import DEFAULT_POLICIES

POLICIES = click.option("--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
                        default=DEFAULT_POLICIES, show_default=True, help="The policies folder.")


def _load(policies_dir: Path):
    if not policies_dir.is_dir():
        raise click.UsageError(f"{policies_dir}: policies folder not found")
    kb, problems = load_policies(policies_dir)
    bad = [p for p in problems if "scraped" not in p.path]
    if bad:
        raise click.ClickException(f"policies/ does not validate ({bad[0]}); fix that first")
    return kb, review.load_candidates(policies_dir, kb)


def _line(c: review.Candidate) -> str:
    r = c.rule
    state = "ok" if c.acceptable else ("already in " + c.duplicate_of if c.duplicate_of else "REFUSED")
    text = (f"{c.key}\n  {r['payer_id']}: {c.drug_entry.get('brand_name', r['drug'])} on {', '.join(r['codes'])}, "
            f"{r['topic']} from {r.get('effective_from', '(no date)')}"
            + (f", criteria {r['criteria_id']}" if r.get("criteria_id") else "")
            + (f", reviewer {r['reviewer']}" if r.get("reviewer") else "")
            + f"\n  source: {(c.source or {}).get('url', '(none)')}"
            + (f"\n  row: {r['excerpt']}" if r.get("excerpt") else "")
            + f"\n  review: {state}")
    for problem in c.problems:
        text += f"\n    - {problem}"
    return text


@click.group()
def review_command():
    """Review scraped drug-rule candidates (policies/scraped/drug-rules/) before they reach policies/.

    \b
    Examples:
      payerkb review list
      payerkb review accept --source anthem-specialty-pharmacy --dry-run
      payerkb review accept anthem-specialty-pharmacy:anthem-georgia--ga-14847-qalsody-prior-auth
      payerkb review reject --source bcbsm-record-drug-pa --why "older than the current list"
    """


@review_command.command("list")
@POLICIES
@click.option("--source", default=None, help="Only the candidates of this scraper source.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def list_command(policies_dir, source, as_json):
    """List every candidate with the table row behind it and whether it can be accepted."""
    _, candidates = _load(policies_dir)
    try:
        shown = review.select(candidates, source=source) if source else candidates
    except review.ReviewError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps([{"id": c.key, "candidate": c.rule, "source": c.source, "drug": c.drug_entry,
                                "maps_to_drug": c.drug_id, "acceptable": c.acceptable,
                                "duplicate_of": c.duplicate_of, "problems": c.problems} for c in shown], indent=2))
        return
    if not shown:
        click.echo("no candidates to review (run `payerkb scrape` for a drug_notice source first)")
        return
    click.echo("\n".join(_line(c) for c in shown))
    ok = sum(c.acceptable for c in shown)
    click.echo(f"\n{len(shown)} candidate(s): {ok} can be accepted, {len(shown) - ok} cannot")


def _chosen(candidates, ids, source, all_):
    if not ids and not source and not all_:
        raise click.UsageError("name candidate ids, or --source NAME, or --all")
    try:
        return candidates if all_ else review.select(candidates, tuple(ids), source)
    except review.ReviewError as exc:
        raise click.UsageError(str(exc)) from None


@review_command.command("accept")
@click.argument("ids", nargs=-1)
@POLICIES
@click.option("--source", default=None, help="Accept every acceptable candidate of this source.")
@click.option("--all", "all_", is_flag=True, help="Accept every acceptable candidate.")
@click.option("--dry-run", is_flag=True, help="Show the change to policies/ as a diff; write nothing.")
def accept_command(ids, policies_dir, source, all_, dry_run):
    """Move candidates into policies/drug-rules/<payer>.yml (and policies/drugs/ for a new drug).

    Refused candidates (no date, no source, unknown code or payer, an ambiguous drug name, already
    in policies/) are listed with the reason and left in place; exit 1 when any was refused.
    """
    kb, candidates = _load(policies_dir)
    chosen = _chosen(candidates, ids, source, all_)
    plan = review.plan_accept(policies_dir, chosen, kb)
    for c in plan.refused:
        why = "; ".join(c.problems) or f"already in {c.duplicate_of}"
        click.echo(f"refused {c.key}: {why}", err=True)
    if not plan.accepted:
        click.echo("nothing accepted", err=True)
        sys.exit(1)
    if dry_run:
        click.echo(plan.diff(policies_dir), nl=False)
        click.echo(f"(dry run) would accept {len(plan.accepted)} candidate(s)", err=True)
        sys.exit(1 if plan.refused else 0)
    problems = review.apply(policies_dir, plan)
    if problems:
        for p in problems[:20]:
            click.echo(p, err=True)
        raise click.ClickException("the accepted rules would not validate; nothing was written")
    review.log(policies_dir, "accept", plan.accepted)
    click.echo(f"accepted {len(plan.accepted)} candidate(s) into "
               + ", ".join(sorted(f"policies/{p}" for p, t in plan.files.items() if t and "scraped" not in str(p))))
    sys.exit(1 if plan.refused else 0)


@review_command.command("reject")
@click.argument("ids", nargs=-1)
@POLICIES
@click.option("--source", default=None, help="Reject every candidate of this source.")
@click.option("--why", default=None, help="Why, for the review log.")
def reject_command(ids, policies_dir, source, why):
    """Drop candidates; the review log keeps them from being offered again by the next scrape."""
    _, candidates = _load(policies_dir)
    chosen = _chosen(candidates, ids, source, False)
    plan = review.plan_reject(policies_dir, chosen)
    problems = review.apply(policies_dir, plan)
    if problems:
        raise click.ClickException(f"could not update the scraped files: {problems[0]}")
    review.log(policies_dir, "reject", chosen, why)
    click.echo(f"rejected {len(chosen)} candidate(s)")
