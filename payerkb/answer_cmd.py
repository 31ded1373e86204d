"""`payerkb answer PAYER [--code] [--date] [--setting] [--drug] [--json]`: the claim-context answer
(payerkb/answer.py) on the command line, the twin of /-/payers/<id>/answer.json."""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import click

from payerkb.answer import answer, format_text
from payerkb.claim import SETTINGS
from payerkb.settings import DEFAULT_DB


@click.command("answer")
@click.argument("payer_id", metavar="PAYER")
@click.option("--code", help="HCPCS code, e.g. J3590 (default: every code).")
@click.option("--date", "date", help="Date of service, YYYY-MM-DD (default: today).")
@click.option("--setting", help=f"Where it is billed: {', '.join(SETTINGS)} (default: every setting).")
@click.option("--drug", help="A drug's brand, generic or other name, or an NDC in any form.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The payerkb database to ask.")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON (the same as answer.json on the web).")
@click.option("--history", is_flag=True, help="Also list, under each topic, the rules not in effect on the date.")
def answer_command(payer_id, code, date, setting, drug, db_path: Path, as_json: bool, history: bool):
    """What PAYER requires on a claim for CODE on DATE in SETTING (and for DRUG): one line per
    topic with the requirement, its value, effective dates, footing (official / secondary only /
    unconfirmed) and the source's own date ("as of YYYY-MM-DD", or "undated, read YYYY-MM-DD").

    Exit status: 0 answered, 1 unknown payer, 2 bad input (one line naming the option).

    \b
    Examples:
      payerkb answer medicare-palmetto-jj --code J3590 --date 2026-03-01 --setting professional
      payerkb answer anthem-georgia --code J3590 --date 2023-12-01 --drug Qalsody --json
    """
    if not db_path.exists():
        click.secho(f"--db: {db_path} does not exist: run `payerkb build` first.", fg="red", err=True)
        sys.exit(2)
    conn = sqlite3.connect(f"file:{db_path.resolve()}?mode=ro", uri=True)
    try:
        result = answer(conn, payer_id, code=code, date=date, setting=setting, drug=drug)
    except ValueError as exc:
        message = str(exc)
        name = message.split(":", 1)[0]
        if name in ("code", "date", "setting", "drug"):
            message = f"--{message}"
        click.secho(message, fg="red", err=True)
        sys.exit(2)
    if result is None:
        msg = f"PAYER: no payer with id {payer_id!r}; `payerkb coverage` or /-/payers lists them."
        if as_json:
            click.echo(json.dumps({"ok": False, "status": 404, "error": msg, "field": "payer"}))
        click.secho(msg, fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        click.echo(format_text(result, history=history))
    conn.close()
    sys.exit(0)
