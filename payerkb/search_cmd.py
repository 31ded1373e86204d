"""`payerkb search`: the smart search in the terminal."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from db import schema
from payerkb.search import DEFAULT_DB, DEFAULT_LIMIT, MAX_LIMIT, check_filters, search


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--db", "db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="Database whose search index (<db>.whoosh/ beside it) to search.")
@click.option("--payer-type", type=click.Choice(schema.PAYER_TYPES), help="Only payers of this type.")
@click.option("--topic", type=click.Choice(schema.TOPICS), help="Only rules on this topic.")
@click.option("--code", help="Only rules covering this HCPCS code, e.g. J3590.")
@click.option("--state", help="Only payers covering this state, e.g. TX.")
@click.option("-n", "--limit", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True,
              help="How many rules to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the /-/search.json document instead.")
def search_command(query, db, payer_type, topic, code, state, limit, as_json):
    """Search the payer rules the way billing staff ask: synonyms (PA, precert, invoice, NDC,
    JW, WAC, AWP, BCBS ...), typos, states, jurisdictions and codes all work.

    \b
    Examples:
      payerkb search preauth j3590 blue cross texas
      payerkb search "invoice threshold" --payer-type medicaid_ffs
      payerkb search wac percent first coast --json

    Exits 1 when the search could not run (no database or index: run `payerkb build`).
    """
    _, problem = check_filters({"code": code, "state": state})
    if problem:
        raise click.UsageError(problem)
    answer = search(" ".join(query), db, payer_type=payer_type, topic=topic, code=code, state=state,
                    limit=limit, with_pieces=not as_json)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    else:
        _print(answer)
    if not answer["available"]:
        sys.exit(1)


def _print(answer: dict) -> None:
    if answer["message"]:
        click.secho(answer["message"], fg="yellow", err=True)
    if answer["suggestion"]:
        click.echo(f"Did you mean: {answer['suggestion']}")
    if answer["hits"]:
        _print_hits(answer)
    if answer["gaps"]:
        click.echo(click.style("\nNo source found yet:", bold=True))
        for gap in answer["gaps"]:
            click.echo(f"   {gap['payer_name']}: {', '.join(gap['topic_labels'])}")


def _print_hits(answer: dict) -> None:
    click.echo(f"{answer['total']} matching rules, best first:\n")
    for i, hit in enumerate(answer["hits"], 1):
        drug = f"{hit['drug_name']}, " if hit.get("kind") == "drug_rule" and hit.get("drug_name") else ""
        title = f"{i}. {hit['payer_name']} — {drug}{hit['topic'].replace('_', ' ')}"
        status = hit["requirement"].replace("_", " ")
        if hit["status"] != "sourced":
            status += f", {hit['status']}"
        click.echo(click.style(title, bold=True) + f"  ({status})")
        snippet = "".join(click.style(t, fg="green", bold=True) if hit_ else t
                          for t, hit_ in hit["snippet_pieces"])
        click.echo(f"   {snippet}")
        dated = (f" · undated, read {hit['as_of']}" if hit.get("as_of_undated") else f" · as of {hit['as_of']}") \
            if hit["as_of"] else ""
        click.echo(click.style(f"   {hit['rule_id']}{dated}", dim=True))
        if hit["payer_count"] > 1:
            others = ", ".join(p["payer_name"] for p in hit["payers"][1:])
            more = hit["payer_count"] - len(hit["payers"])
            click.echo(click.style(f"   the same rule for {hit['payer_count'] - 1} more: {others}"
                                   + (f" and {more:,} more" if more else ""), dim=True))
    facets, labels = answer["facets"], answer["facet_labels"]
    if facets.get("payer_type"):
        top = ", ".join(f"{labels['payer_type'].get(k, k)} {v}" for k, v in list(facets["payer_type"].items())[:6])
        click.echo(click.style(f"\nby payer type: {top}", dim=True))
    if facets.get("topic"):
        top = ", ".join(f"{labels['topic'].get(k, k)} {v}" for k, v in list(facets["topic"].items())[:6])
        click.echo(click.style(f"by topic: {top}", dim=True))
