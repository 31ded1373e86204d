"""The command line for X12 files: `payerkb check FILE.837` (called from check_cmd) and
`payerkb explain FILE.835`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import payerkb.x12 as x12
from payerkb.check_text import format_result
from payerkb.claim import ClaimInputError
from payerkb.settings import DEFAULT_DB


def read_limited(stream) -> bytes:
    """The whole input, refused (X12Error) beyond x12.MAX_BYTES before anything is parsed."""
    data = stream.read(x12.MAX_BYTES + 1)
    if len(data) > x12.MAX_BYTES:
        raise x12.X12Error(f"the file is larger than {x12.MAX_BYTES // (1024 * 1024)} MiB: split it")
    return data


def _where(c: dict) -> str:
    return f"interchange {c['interchange']}, transaction set {c['transaction_set']}, claim {c['claim_id']} (segment {c['segment']})"


def _payer_words(p: dict) -> str:
    named = p["name"] or "(no name)"
    if p["payer_id"]:
        return f"payer {named} -> {p['payer_id']} ({p['how']})"
    return f"payer {named}: NOT MATCHED: {p['how']}"


def claim_837_text(c: dict, min_severity: str = "info") -> str:
    out = [click.style(f"{_where(c)} [{c['transaction']}]: {'OK' if c['ok'] else 'PROBLEMS'}", bold=True),
           f"  {_payer_words(c['payer'])}",
           f"  setting: {c['setting'] or 'none'} ({c['setting_from']})"]
    for line in c["lines"]:
        where = f"line {line['lx']} (segment {line['segment']})"
        code = line["hcpcs"] or line["revenue_code"] or "?"
        if line["status"] == "checked":
            label = f"{where}: {code}" + (f" x{line['units']:g}" if line["units"] is not None else "")
            text = format_result(line["result"], label, min_severity, line["line"])
            out.append("\n".join("  " + t for t in text.splitlines()))
        else:
            out.append(f"  {where}: {code}: {line['status'].replace('_', ' ')}: {line['reason']}")
    return "\n".join(out)


def summary_837_text(head: dict) -> str:
    s = head["summary"]
    return click.style(
        f"{head['interchanges']} interchange(s), {s['claims']} claim(s), {s['lines']} line(s): {s['checked']} checked "
        f"({s['reject_likely']} reject likely), {s['skipped']} skipped (not NOC), {s['not_checked']} not checked",
        bold=True)


def format_837(report: dict, min_severity: str = "info") -> str:
    return "\n\n".join([claim_837_text(c, min_severity) for c in report["claims"]] + [summary_837_text(report)])


def _item_lines(item: dict) -> list[str]:
    level = " (claim level)" if item.get("level") == "claim" else ""
    amount = f" ${item['amount']:,.2f}" if item.get("amount") else ""
    words = item["meaning"] or "not in payerkb's denial code list"
    group = f" [{item['group_words']}]" if item.get("group_words") else ""
    lines = [f"    {item['code']}{amount}{level}{group}: {words}"]
    if item.get("routine"):
        return lines
    rule = item.get("rule")
    if rule:
        lines.append(f"      likely rule {rule['rule_id']} ({rule['status']}; {rule['why']}): {rule['summary']}")
        lines.append(f"      fix: {rule['fix']}")
        if rule["source_url"]:
            lines.append(f"      source: {rule['source_url']}" + (f" (as of {rule['as_of']})" if rule["as_of"] else ""))
    elif item.get("note"):
        lines.append(f"      no rule: {item['note']}")
    if item.get("prevention"):
        lines.append(f"      prevention: {item['prevention']}")
    return lines


def claim_835_text(c: dict, min_severity: str = "info") -> str:
    out = [click.style(f"{_where(c)}: {c['status_words'] or c['status']}, charged "
                       f"{c['charge'] or 0:,.2f}, paid {c['paid'] or 0:,.2f}", bold=True),
           f"  {_payer_words(c['payer'])}; setting {c['setting']}"]
    for item in c["adjustments"] + c["remarks"]:
        amount = f" ${item['amount']:,.2f}" if item.get("amount") else ""
        out.append(f"  claim level {item['code']}{amount}: {item['meaning'] or 'not in payerkb list'}")
    for line in c["lines"]:
        where = f"  service line {line['line']} (segment {line['segment']}): {line['hcpcs'] or line['revenue_code'] or '?'}"
        if line["status"] == "skipped":
            out.append(f"{where}: skipped ({line['reason']})")
            continue
        out.append(f"{where}: {line['status'].upper()}, charged {line['charge'] or 0:,.2f}, paid {line['paid'] or 0:,.2f}")
        if line["status"] == "paid":
            continue
        for item in line["adjustments"] + line["remarks"]:
            out.extend(_item_lines(item))
    return "\n".join(out)


def summary_835_text(head: dict) -> str:
    s = head["summary"]
    out = [click.style(f"{s['claims']} claim(s), {s['lines']} line(s), {s['noc_lines']} on NOC codes: {s['denied']} "
                       f"denied, {s['reduced']} reduced, {s['paid']} paid", bold=True)]
    if s["by_cause"]:
        out.append("denials by cause:")
        for cause in s["by_cause"]:
            rules = f"; rules {', '.join(cause['rules'])}" if cause["rules"] else ""
            amount = f", ${cause['amount']:,.2f}" if cause["amount"] else ""
            out.append(f"  {cause['code']}: {cause['lines']} line(s){amount}: "
                       f"{cause['meaning'] or 'not in payerkb list'}{rules}")
    return "\n".join(out)


def format_835(report: dict) -> str:
    return "\n\n".join([claim_835_text(c) for c in report["claims"]] + [summary_835_text(report)])


def _errors(errors: list[dict]) -> None:
    for e in errors:
        where = f"segment {e['segment']}: " if e.get("segment") else ""
        click.secho(f"{where}{e['error']}", fg="red", err=True)


def run(kind: str, data: bytes, db_path: Path, payer: str | None, as_json: bool, min_severity: str = "info",
        strict: bool = False) -> int:
    """Check an 837 or explain an 835, writing each claim as soon as it is done (a large file is never
    held as one report); return the exit status."""
    from payerkb.x12_check import Run837
    from payerkb.x12_explain import Run835

    try:
        job = Run837(data, db_path, payer_id=payer, strict=strict) if kind == "837" else Run835(data, db_path, payer_id=payer)
    except ClaimInputError as exc:
        click.secho(exc.message, fg="red", err=True)
        return 2
    text = claim_837_text if kind == "837" else claim_835_text
    n = 0
    if as_json:
        click.echo('{"claims": [', nl=False)
    for claim in job.claims():
        if as_json:
            click.echo(("," if n else "") + "\n" + json.dumps(claim), nl=False)
        else:
            click.echo(("\n" if n else "") + text(claim, min_severity))
        n += 1
    head = job.report_head()
    if not n and not head["errors"]:
        head["errors"].append({"segment": None, "error": f"no {kind} transaction set in the file"})
        head["ok"] = False
    if as_json:
        rest = json.dumps(head)
        click.echo("\n], " + rest[1:])
    elif n:
        click.echo("\n" + (summary_837_text(head) if kind == "837" else summary_835_text(head)))
    _errors(head["errors"])
    if head["errors"]:
        return 2
    if kind == "837":
        s = head["summary"]
        return 2 if s["not_checked"] else 1 if s["reject_likely"] else 0
    return 0


@click.command("explain")
@click.argument("remittance", type=click.File("rb"), metavar="FILE|-")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The payerkb database to explain against.")
@click.option("--payer", help="payerkb payer id to use instead of matching N1*PR.")
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON document.")
def explain_command(remittance, db_path: Path, payer: str | None, as_json: bool):
    """Explain an 835 remittance: for every NOC drug line denied or reduced, each adjustment and
    remark code in words, the payer's rule most likely behind it, its fix and source, and a summary
    of denials by cause.

    Exit status: 0 read and explained, 2 the file is not a readable 835 (each problem is one line
    naming the segment; what could be read is still reported).

    \b
    Example:
      payerkb explain remit.835
      payerkb explain remit.835 --json --payer medicare-palmetto-jj
    """
    if not db_path.exists():
        click.secho(f"{db_path} does not exist: run `payerkb build` first.", fg="red", err=True)
        sys.exit(2)
    try:
        data = read_limited(remittance)
    except x12.X12Error as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)
    sys.exit(run("835", data, db_path, payer, as_json))
