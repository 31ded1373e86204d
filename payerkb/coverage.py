"""`payerkb coverage`: how much of the payer x topic matrix is backed by sources.

Every (payer, topic) cell gets one status, worst news first:

- conflicting: at least one rule for the topic is marked conflicting (sources disagree);
- sourced: a rule cites a source;
- unconfirmed: only rules nobody has sourced yet (or scraped rules still waiting for review);
- unknown: no rule at all, only the gap row the build fills in.

Superseded rules are left out. The official-source share is the fraction of written rules (gaps
excluded) that cite at least one official source (CMS, a MAC, a state agency or the payer itself).
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import click

from db.schema import PAYER_TYPES, TOPICS
from payerkb.settings import DEFAULT_DB

STATUSES = ("sourced", "conflicting", "unconfirmed", "unknown")
# A cell takes the first of these that any of its rules has.
_PRECEDENCE = ("conflicting", "sourced", "unconfirmed")
_RULE_STATUS_TO_CELL = {
    "conflicting": "conflicting",
    "sourced": "sourced",
    "unconfirmed": "unconfirmed",
    "needs_review": "unconfirmed",
}
TOPIC_LABELS = {
    "prior_auth": "PA", "invoice": "INV", "pricing": "PRC", "ndc": "NDC", "narrative": "NAR",
    "units": "UNT", "modifiers": "MOD", "documentation": "DOC", "submission": "SUB", "coding": "COD",
}
CELL_MARKS = {"sourced": "S", "conflicting": "C", "unconfirmed": "U", "unknown": "."}
CELL_COLOURS = {"sourced": "green", "conflicting": "red", "unconfirmed": "yellow", "unknown": None}


# What issue 11 asked of the knowledge base; `payerkb coverage` shows each with the measured figure.
TARGETS = (
    ("payers", "payers", 90),
    ("payers_with_3_topics_sourced", "payers with 3 or more topics sourced", 45),
    ("payers_with_prior_auth_sourced", "payers whose prior authorization is sourced", 20),
    ("official_share_percent", "rules citing an official source (%)", 70),
    ("invoice_rules_silent_on_threshold", "invoice rules that neither give a dollar threshold nor say the source gives none", None),
)
NO_THRESHOLD_WORDS = "no dollar threshold"


class CoverageError(Exception):
    """The database cannot be read as a payerkb database."""


def _connect(db_path: Path) -> sqlite3.Connection:
    if not db_path.is_file():
        raise CoverageError(f"{db_path}: database not found; run `payerkb build` first")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    missing = {"payers", "rules"} - tables
    if missing:
        conn.close()
        raise CoverageError(f"{db_path}: not a payerkb database (no {', '.join(sorted(missing))} table)")
    return conn


def _share(official: int, total: int) -> float | None:
    return round(official / total, 4) if total else None


def _summary(rows: list[dict]) -> dict:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        for status, n in row["cell_counts"].items():
            counts[status] += n
    rules = sum(r["rules"] for r in rows)
    official = sum(r["official_rules"] for r in rows)
    return {
        "payers": len(rows),
        "cells": sum(counts.values()),
        "cell_counts": counts,
        "rules": rules,
        "official_rules": official,
        "official_share": _share(official, rules),
    }


def compute_coverage(db_path: Path | str, payer_type: str | None = None) -> dict:
    """The coverage report of the database at db_path, as plain data (the --json output)."""
    db_path = Path(db_path)
    conn = _connect(db_path)
    try:
        payers = conn.execute(
            "select id, name, payer_type from payers where (? is null or payer_type = ?) "
            "order by payer_type, id", (payer_type, payer_type)).fetchall()
        rules = conn.execute(
            "select payer_id, topic, status, has_official_source from rules "
            "where origin != 'gap' and status != 'superseded'").fetchall()
        try:
            silent_invoice = [r[0] for r in conn.execute(
                "select id from rules where topic = 'invoice' and origin != 'gap' and status != 'superseded' "
                "and requirement in ('required', 'conditional') and threshold_usd is null "
                "and instr(lower(summary), ?) = 0 order by id", (NO_THRESHOLD_WORDS,))]
        except sqlite3.OperationalError:  # a database without the typed columns: not measured
            silent_invoice = None
    except sqlite3.DatabaseError as exc:
        raise CoverageError(f"{db_path}: cannot read payers and rules ({exc})") from None
    finally:
        conn.close()

    by_payer: dict[str, list[tuple]] = {}
    for payer_id, topic, status, official in rules:
        by_payer.setdefault(payer_id, []).append((topic, status, official))

    rows = []
    for payer_id, name, ptype in payers:
        own = by_payer.get(payer_id, [])
        cells = {}
        for topic in TOPICS:
            found = {_RULE_STATUS_TO_CELL.get(s, "unconfirmed") for t, s, _ in own if t == topic}
            cells[topic] = next((s for s in _PRECEDENCE if s in found), "unknown")
        counts = dict.fromkeys(STATUSES, 0)
        for status in cells.values():
            counts[status] += 1
        official = sum(1 for *_, o in own if o)
        rows.append({
            "payer_id": payer_id,
            "payer_name": name,
            "payer_type": ptype,
            "cells": cells,
            "cell_counts": counts,
            "rules": len(own),
            "official_rules": official,
            "official_share": _share(official, len(own)),
        })

    types = sorted({r["payer_type"] for r in rows})
    overall = _summary(rows)
    measured = {
        "payers": len(rows),
        "payers_with_3_topics_sourced": sum(
            1 for r in rows if r["cell_counts"]["sourced"] + r["cell_counts"]["conflicting"] >= 3),
        "payers_with_prior_auth_sourced": sum(1 for r in rows if r["cells"]["prior_auth"] in ("sourced", "conflicting")),
        "official_share_percent": round((overall["official_share"] or 0) * 100, 1),
        "invoice_rules_silent_on_threshold": (len(silent_invoice) if payer_type is None and silent_invoice is not None
                                              else None),
    }
    targets = []
    for key, label, minimum in TARGETS:
        value = measured[key]
        met = (value == 0) if minimum is None else (value >= minimum)
        targets.append({"target": key, "label": label, "value": value,
                        "minimum": minimum, "met": bool(met) if value is not None else None})
    return {
        "database": str(db_path),
        "topics": list(TOPICS),
        "statuses": list(STATUSES),
        "payers": rows,
        "by_payer_type": {t: _summary([r for r in rows if r["payer_type"] == t]) for t in types},
        "overall": overall,
        "targets": targets,
        "invoice_rules_silent_on_threshold": silent_invoice,
    }


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def render_table(report: dict) -> str:
    """The report as a terminal table (click.echo drops the colours when not on a terminal)."""
    rows = report["payers"]
    id_width = max([len("payer")] + [len(r["payer_id"]) for r in rows])
    type_width = max([len("type")] + [len(r["payer_type"]) for r in rows])
    topics = report["topics"]
    lines = [
        f"payerkb coverage of {report['database']}: {len(rows)} payers x {len(topics)} topics",
        "cells: " + "  ".join(f"{CELL_MARKS[s]} {s}" for s in STATUSES[:3]) + "  . unknown (no source yet)",
        "topics: " + ", ".join(f"{TOPIC_LABELS[t]} {t}" for t in topics),
        "",
        f"{'payer':<{id_width}}  {'type':<{type_width}}  "
        + " ".join(f"{TOPIC_LABELS[t]:>3}" for t in topics) + f"  {'rules':>5}  {'official':>8}",
    ]
    for row in rows:
        marks = " ".join(
            click.style(f"{CELL_MARKS[row['cells'][t]]:>3}", fg=CELL_COLOURS[row["cells"][t]])
            for t in topics
        )
        lines.append(
            f"{row['payer_id']:<{id_width}}  {row['payer_type']:<{type_width}}  {marks}"
            f"  {row['rules']:>5}  {_pct(row['official_share']):>8}"
        )

    width = max([len("all payers"), len("payer type")] + [len(t) for t in report["by_payer_type"]])
    lines += [
        "",
        f"{'payer type':<{width}}  {'payers':>6}  {'cells':>5}  {'S':>4}  {'C':>4}  {'U':>4}  {'.':>4}"
        f"  {'with a source':>13}  {'rules':>5}  {'official':>8}",
    ]
    for label, s in [*report["by_payer_type"].items(), ("all payers", report["overall"])]:
        c = s["cell_counts"]
        with_source = (c["sourced"] + c["conflicting"]) / s["cells"] if s["cells"] else None
        lines.append(
            f"{label:<{width}}  {s['payers']:>6}  {s['cells']:>5}  {c['sourced']:>4}  {c['conflicting']:>4}"
            f"  {c['unconfirmed']:>4}  {c['unknown']:>4}  {_pct(with_source):>13}  {s['rules']:>5}"
            f"  {_pct(s['official_share']):>8}"
        )
    lines.append(
        "official: share of written rules (gaps excluded) citing CMS, a MAC, a state agency or the payer itself"
    )
    lines += ["", "targets (issue 11):"]
    for t in report["targets"]:
        if t["value"] is None:
            continue
        want = "none" if t["minimum"] is None else f">= {t['minimum']}"
        mark = click.style("met", fg="green") if t["met"] else click.style("NOT MET", fg="red")
        lines.append(f"  {t['label']}: {t['value']} (want {want}) {mark}")
    return "\n".join(lines)


@click.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The built database to report on.")
@click.option("--payer-type", type=click.Choice(PAYER_TYPES), default=None,
              help="Only payers of this type.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PERCENT",
              help="Exit 1 when fewer than PERCENT of the written rules cite an official source.")
def coverage(db_path: Path, payer_type: str | None, as_json: bool, fail_under: float | None):
    """Show, for every payer and topic, whether payerkb's answer is sourced, conflicting,
    unconfirmed or unknown (a gap), and the share of rules backed by an official source,
    overall and per payer type.

    Exits 1 when the database cannot be read, or when --fail-under is given and the overall
    official-source share is below it.
    """
    try:
        report = compute_coverage(db_path, payer_type)
    except CoverageError as exc:
        click.secho(f"coverage: {exc}", fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_table(report))
    share = report["overall"]["official_share"]
    if fail_under is not None and (share or 0) * 100 < fail_under:
        click.secho(
            f"coverage: official-source share {_pct(share)} is below --fail-under {fail_under:g}%",
            fg="red", err=True)
        sys.exit(1)
