"""A check result as text for the terminal: one block a claim line (`payerkb check`, and every
service line of an 837 in `payerkb check FILE.837`)."""
from __future__ import annotations

import click

MARKS = {"error": "ERROR  ", "warning": "WARNING", "info": "info   "}
COLOURS = {"error": "red", "warning": "yellow", "info": None}


def _citation(f: dict) -> str:
    bits = [f"rule {f['rule_id']}" if f["rule_id"] else (f["basis"] or "")]
    if f["source_url"]:
        bits.append(f["source_url"] + (f" (as of {f['as_of']})" if f["as_of"] else ""))
    if f["likely_denial"]:
        bits.append("likely denial " + ", ".join(f["likely_denial"]))
    return " | ".join(b for b in bits if b)


def format_result(result: dict, label: str, min_severity: str = "info", line: dict | None = None) -> str:
    keep = ("error", "warning", "info")[: ("error", "warning", "info").index(min_severity) + 1]
    counts = {s: sum(f["severity"] == s for f in result["findings"]) for s in ("error", "warning", "info")}
    head = f"{label}: {'OK' if result['ok'] else 'REJECT LIKELY'} ({counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes)"
    out = [click.style(head, bold=True)]
    for f in result["findings"]:
        if f["severity"] not in keep:
            continue
        out.append(f"  {click.style(MARKS[f['severity']], fg=COLOURS[f['severity']])} {f['topic']:<11} {f['message']}")
        if f["fix"]:
            out.append(f"  {'':7} {'':11} fix: {f['fix']}")
        cite = _citation(f)
        if cite:
            out.append(f"  {'':7} {'':11} {cite}")
    n, given = result["normalized"], line or {}
    fixed = [f"code {n['suggested_code']}" if n.get("suggested_code") else None,
             f"units {n['units']:g}" if n.get("units") is not None and given.get("units") not in (None, n["units"]) else None,
             f"NDC {n['ndc_11']}" if n.get("ndc_11") and n["ndc_11"] != given.get("ndc") else None,
             f"narrative \u201c{n['narrative']}\u201d" if n.get("narrative") and n["narrative"] != given.get("narrative") else None]
    if any(fixed):
        out.append("  corrected: " + "; ".join(x for x in fixed if x))
    return "\n".join(out)
