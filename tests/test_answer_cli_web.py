"""Issue 13: `payerkb answer` and /-/payers/<id>/answer.json, the CLI and JSON twins of the answer."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from payerkb.cli import cli

JJ = "medicare-palmetto-jj"
CONTEXT = ["--code", "J3590", "--date", "2026-03-01", "--setting", "professional"]


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture()
def run(built_db):
    def go(*args):
        return _runner().invoke(cli, ["answer", *args, "--db", str(built_db)])
    return go


def test_text_one_line_per_topic_then_the_unknown_ones(run):
    r = run(JJ, *CONTEXT)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Palmetto GBA") and "J3590 on professional claims on 2026-03-01" in lines[0]
    pricing = [ln for ln in lines if ln.strip().startswith("pricing:")]
    assert len(pricing) == 1 and "WAC 103%" in pricing[0] and "from 2019-01-01" in pricing[0]
    assert "106%" not in r.stdout
    assert "[official; as of 2021-02-15]" in pricing[0]
    assert lines[-1] == "  no source found yet for: submission"
    assert "undated, read 20" in r.stdout


def test_history_option_shows_the_superseded_rule(run):
    r = run(JJ, *CONTEXT, "--history")
    assert r.exit_code == 0
    hist = [ln for ln in r.stdout.splitlines() if "history:" in ln and "106%" in ln]
    assert hist and "superseded" in hist[0]


def test_json_option(run):
    r = run(JJ, *CONTEXT, "--json")
    assert r.exit_code == 0
    cli_answer = json.loads(r.stdout)
    assert [t["topic"] for t in cli_answer["topics"]][:3] == ["prior_auth", "invoice", "pricing"]
    assert cli_answer["unknown_topics"] == ["submission"]


def test_drug_option(run):
    r = run("anthem-georgia", "--code", "J3590", "--date", "2023-12-01", "--drug", "Qalsody")
    assert r.exit_code == 0
    assert "CC-0237" in r.stdout and "Qalsody (tofersen), found by name" in r.stdout
    assert "J1304" in r.stdout
    r = run("anthem-georgia", "--code", "J3590", "--date", "2023-10-01", "--drug", "Qalsody")
    pa = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("prior authorization:"))
    assert "CC-0237" not in pa


@pytest.mark.parametrize("args, option", [
    (["--date", "2026-02-30"], "--date"), (["--date", "tomorrow"], "--date"), (["--setting", "home"], "--setting"),
    (["--code", "XYZ"], "--code"), (["--drug", "12-34"], "--drug"),
])
def test_bad_input_exits_2_with_one_line(run, args, option):
    r = run(JJ, *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith(f"{option}: ")


def test_unknown_payer_exits_1(run):
    r = run("no-such-payer", "--code", "J3590")
    assert r.exit_code == 1 and "no-such-payer" in r.stderr


def test_missing_database_exits_2(tmp_path):
    r = _runner().invoke(cli, ["answer", JJ, "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 2


async def test_answer_json(ds):
    r = await ds.client.get(f"/-/payers/{JJ}/answer.json?code=J3590&date=2026-03-01&setting=professional")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["ok"] is True and body["payer"]["id"] == JJ
    pricing = next(t for t in body["topics"] if t["topic"] == "pricing")
    assert any(x["values"].get("percent") == 103.0 for x in pricing["rules"])
    assert any(x["values"].get("percent") == 106.0 for x in pricing["history"])


async def test_answer_json_matches_the_cli(ds, run):
    r = await ds.client.get(f"/-/payers/anthem-georgia/answer.json?code=J3590&date=2023-12-01&drug=Qalsody")
    web = r.json()
    cli_out = json.loads(run("anthem-georgia", "--code", "J3590", "--date", "2023-12-01", "--drug", "Qalsody",
                             "--json").stdout)
    web.pop("ok")
    assert web == cli_out
    assert [x["criteria_id"] for x in web["drug"]["rules"]] == ["CC-0237"]


async def test_answer_json_every_parameter_optional(ds):
    r = await ds.client.get(f"/-/payers/{JJ}/answer.json")
    assert r.status_code == 200 and r.json()["context"]["date_given"] is False
    r = await ds.client.get(f"/-/payers/{JJ}/answer.json?code=&date=&setting=&drug=")
    assert r.status_code == 200


@pytest.mark.parametrize("query, field", [
    ("date=2026-13-01", "date"), ("setting=home", "setting"), ("code=J35", "code"), ("drug=0002-14", "drug"),
    ("date=2026-01-01&date=2026-02-01", "date"),
])
async def test_answer_json_bad_input_is_400_naming_the_parameter(ds, query, field):
    r = await ds.client.get(f"/-/payers/{JJ}/answer.json?{query}")
    assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and body["field"] == field and body["error"].startswith(f"{field}: ")


async def test_answer_json_unknown_payer_is_404(ds):
    r = await ds.client.get("/-/payers/no-such-payer/answer.json?code=J3590")
    assert r.status_code == 404
    assert r.json()["ok"] is False and r.json()["field"] == "payer"
