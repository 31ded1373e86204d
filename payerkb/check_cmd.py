"""`payerkb check` (claim lines against payer rules) and `payerkb which-code` (the code advisor)."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click

from payerkb.advisor import which_code
from payerkb.check import check_claim
from payerkb.claim import DRUG_KINDS, SETTINGS, ClaimInputError
from payerkb.check_text import format_result
from payerkb.claim_input import InputTooLarge, iter_claim_lines
from payerkb.settings import DEFAULT_DB


def _label(line, number: int, batch: bool) -> str:
    parts = [str(line.get(k)) for k in ("payer_id", "hcpcs", "date_of_service") if isinstance(line, dict) and line.get(k)]
    core = " ".join(parts) or "claim line"
    return f"line {number}: {core}" if batch else core


@click.command("check")
@click.argument("claims", type=click.File("rb"), metavar="FILE|-")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The payerkb database to check against.")
@click.option("--json", "as_json", is_flag=True, help="One JSON result per claim line (JSON Lines).")
@click.option("--min-severity", type=click.Choice(["error", "warning", "info"]), default="info", show_default=True,
              help="Leave out findings below this severity in the text report.")
@click.option("--format", "input_format", type=click.Choice(["auto", "json", "x12"]), default="auto", show_default=True,
              help="Input format: auto reads an 837 when the input starts with an ISA segment, JSON otherwise.")
@click.option("--payer", help="837 input: payerkb payer id to use instead of matching NM1*PR.")
@click.option("--strict", is_flag=True,
              help="Where the payer has no sourced rule on units, NDC or narrative, the warning that cites the "
                   "national or most common rule is an error (exit status 1).")
def check_command(claims, db_path: Path, as_json: bool, min_severity: str, input_format: str, payer: str | None,
                  strict: bool):
    """Check claim lines against the payer's rules and say what will be rejected and how to fix it.

    FILE holds one claim line as a JSON object, a JSON array of them, or JSON Lines (one object a
    line); `-` reads standard input. Fields: payer_id, date_of_service, setting, hcpcs, units,
    modifiers, ndc, ndc_qualifier, ndc_unit, ndc_quantity, narrative (or drug_name, dose, route),
    drug_kind, billed_amount, invoice_attached, invoice_date, prior_auth_number, discarded_amount,
    single_dose_container.

    FILE may also be an X12 837 claim file (837P 005010X222A1 or 837I 005010X223A2, detected from
    its ISA header, or --format x12): every service line is checked, with its position in the file
    (interchange, transaction set, CLM01, LX01, segment number); --json gives one JSON document.
    See docs/x12.md.

    Where the payer has no sourced rule of its own on units, NDC or narrative for a NOC line, a
    warning says so and cites the national payer's rule (else the most common one among payers of
    its type); --strict makes those errors.

    Exit status: 0 no errors, 1 some line has an error finding (with --strict, also a missing payer
    rule on units, NDC or narrative), 2 malformed input (the message names the line and the field,
    or the 837 segment).

    \b
    Example:
      echo '{"payer_id": "medicare-palmetto-jj", "date_of_service": "2026-01-15",
             "hcpcs": "J3590", "units": 3}' | payerkb check -
    """
    if not db_path.exists():
        click.secho(f"{db_path} does not exist: run `payerkb build` first.", fg="red", err=True)
        sys.exit(2)
    if not hasattr(claims, "peek") and hasattr(claims, "readinto"):
        claims = io.BufferedReader(claims)  # e.g. a test runner's stdin: peek at it without consuming
    if input_format == "x12" or (input_format == "auto" and _starts_with_isa(claims)):
        import payerkb.x12 as x12
        from payerkb.x12_cmd import read_limited, run

        try:
            data = read_limited(claims)
        except x12.X12Error as exc:
            click.secho(str(exc), fg="red", err=True)
            sys.exit(2)
        sys.exit(run("837", data, db_path, payer, as_json, min_severity, strict))
    bad_input = any_error = False
    shown = 0
    try:
        for number, line in iter_claim_lines(claims):
            try:
                if isinstance(line, ClaimInputError):
                    raise line
                result = check_claim(line, db_path, strict)
            except ClaimInputError as exc:
                bad_input = True
                where = f"line {number}: " if number > 1 or shown else ""
                if as_json:
                    click.echo(json.dumps({"line": number, **exc.as_json()}))
                click.secho(f"{where}{exc.message}", fg="red", err=True)
                continue
            any_error = any_error or not result["ok"]
            batch = number > 1 or shown > 0
            if as_json:
                click.echo(json.dumps({"line": number, **result}))
            else:
                if shown:
                    click.echo("")
                click.echo(format_result(result, _label(line, number, batch), min_severity, line))
            shown += 1
    except InputTooLarge as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)
    sys.exit(2 if bad_input else 1 if any_error else 0)


def _starts_with_isa(stream) -> bool:
    """Whether the input's first non-blank bytes are an X12 ISA segment (looked at without consuming)."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return False
    try:
        head = peek(512)[:512]
    except (OSError, ValueError):
        return False
    return head.lstrip()[:3] == b"ISA"


@click.command("which-code")
@click.option("--drug-kind", type=click.Choice(DRUG_KINDS), help="What kind of drug it is.")
@click.option("--setting", type=click.Choice(SETTINGS), default="professional", show_default=True,
              help="Where it is billed.")
@click.option("--payer", "payer_id", help="Payer id, e.g. medicare-palmetto-jj.")
@click.option("--date", "date", help="Date of service, YYYY-MM-DD (default today).")
@click.option("--ndc", help="An NDC: when the CMS crosswalk lists it under a specific code, that code wins.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Answer as JSON.")
def which_code_command(drug_kind, setting, payer_id, date, ndc, db_path: Path, as_json: bool):
    """Which HCPCS code to bill a drug on, and why, with sources.

    \b
    Examples:
      payerkb which-code --drug-kind biologic --setting outpatient_facility \\
          --payer medicare-palmetto-jj --date 2026-01-15
      payerkb which-code --ndc 00002-1433-80 --date 2026-01-15
    """
    if not db_path.exists():
        click.secho(f"{db_path} does not exist: run `payerkb build` first.", fg="red", err=True)
        sys.exit(2)
    try:
        answer = which_code(db=db_path, drug_kind=drug_kind, setting=setting, payer_id=payer_id, date=date, ndc=ndc)
    except ClaimInputError as exc:
        click.secho(exc.message.replace(f"{exc.field}:", f"--{(exc.field or '').replace('_', '-')}:", 1),
                    fg="red", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        sys.exit(0 if answer["code"] else 1)
    if answer["code"] is None:
        click.echo("No code could be chosen.")
        for reason in answer["reasons"]:
            click.echo(f"  why: {reason}")
        sys.exit(1)
    else:
        click.secho(f"{answer['code']}  {answer.get('long_descriptor') or ''}".rstrip(), bold=True)
    for reason in answer["reasons"]:
        click.echo(f"  why: {reason}")
    if answer.get("opps_status_indicator"):
        click.echo(f"  OPPS status indicator: {answer['opps_status_indicator']}")
    for src in answer["sources"]:
        click.echo(f"  source: {src['url'] or src['title']}" + (f" (as of {src['as_of']})" if src.get("as_of") else ""))
    for alt in answer["alternatives"]:
        click.echo(f"  instead: {alt['code']}: {alt['why']}")
    for rule in answer["payer_rules"]:
        click.echo(f"  payer rule {rule['rule_id']} ({rule['status']}): {rule['summary']}"
                   + (f" [{rule['source_url']}]" if rule["source_url"] else ""))
    for note in answer["notes"]:
        click.echo(f"  note: {note}")
