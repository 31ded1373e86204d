"""Hostile files and streams at the command line: each answers exit 2 with one line, no traceback."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from payerkb.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PAYERKB = [sys.executable, "-m", "payerkb.cli"]


def run_cli(*args, input: bytes | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*PAYERKB, *args], input=input, capture_output=True, timeout=timeout, cwd=ROOT)


def one_clear_line(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err[-2000:]
    return err


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    from db.build import build
    out = tmp_path_factory.mktemp("attack-db") / "payerkb.db"
    build(ROOT / "policies", out)
    return out


# --- payerkb check ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    (os.urandom(64) + b"\xff\xfe", "not UTF-8 text"),
    (b"[" * 1000 + b"]" * 1000, "nested too deeply"),
    (b'{"units": ' + b"9" * 5000 + b"}", "not a usable JSON value"),
    (b"\x00" * 300_000, "longer than 256 KiB"),
], ids=["not-utf8", "nested", "huge-number", "too-long"])  # fixed ids: pytest-xdist workers must agree
@pytest.mark.slow
def test_check_refuses_hostile_input_with_exit_2(db, tmp_path, body, message):
    path = tmp_path / "claims.json"
    path.write_bytes(body)
    proc = run_cli("check", str(path), "--db", str(db))
    assert proc.returncode == 2
    assert message in one_clear_line(proc)


def test_check_stops_reading_an_endless_stream(db):
    """/dev/zero has no line end: reading stops at the line cap instead of filling memory."""
    proc = run_cli("check", "/dev/zero", "--db", str(db), timeout=30)
    assert proc.returncode == 2 and "longer than 256 KiB" in one_clear_line(proc)


def test_check_streams_json_lines(db, tmp_path):
    line = b'{"payer_id": "medicare-wps-j5", "date_of_service": "2026-01-15", "hcpcs": "J3590", "units": 1}\n'
    path = tmp_path / "many.jsonl"
    path.write_bytes(line * 300 + b"{broken\n" + line)
    proc = run_cli("check", str(path), "--db", str(db), "--json")
    assert proc.returncode == 2  # the broken line is malformed input; the others were all checked
    out = proc.stdout.decode().splitlines()
    assert len(out) == 302 and '"line": 301' in out[300]
    assert "line 301: not valid JSON" in one_clear_line(proc)


def test_which_code_exits_1_when_it_cannot_choose(db):
    """An NDC the crosswalk does not know, and no drug kind: no code, and the exit status says so."""
    result = CliRunner().invoke(cli, ["which-code", "--db", str(db), "--ndc", "99999-9999-99"])
    assert result.exit_code == 1 and "No code could be chosen" in result.output
    as_json = CliRunner().invoke(cli, ["which-code", "--db", str(db), "--ndc", "99999-9999-99", "--json"])
    assert as_json.exit_code == 1 and '"code": null' in as_json.output
    chosen = CliRunner().invoke(cli, ["which-code", "--db", str(db), "--drug-kind", "biologic"])
    assert chosen.exit_code == 0 and "J3590" in chosen.output


# --- payerkb validate ---------------------------------------------------------------------------

@pytest.fixture()
def policies(tmp_path) -> Path:
    dest = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", dest, ignore=shutil.ignore_patterns("cms"))
    shutil.copytree(ROOT / "policies" / "reference" / "cms", dest / "reference" / "cms")
    return dest


def test_a_yaml_alias_bomb_is_refused_quickly(policies):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    lines.append("id: bomb\nname: *i\npayer_type: bcbs")
    (policies / "payers" / "bomb.yml").write_text("\n".join(lines) + "\n")
    proc = run_cli("validate", "--policies", str(policies), timeout=30)
    err = one_clear_line(proc)
    assert proc.returncode == 1
    assert re.search(r"bomb\.yml:\d+: YAML syntax error: more than 20 YAML aliases", err)
    assert len(err) < 2000  # no expanded value in the message


def test_a_symlink_loop_is_a_problem_not_a_crash(policies):
    os.symlink("loop.yml", policies / "payers" / "loop.yml")
    proc = run_cli("validate", "--policies", str(policies))
    assert proc.returncode == 1
    assert "loop.yml:1: cannot read file" in one_clear_line(proc)


def test_a_bad_utf8_byte_is_reported_on_its_own_line(policies):
    (policies / "payers" / "bad-bytes.yml").write_bytes(b"id: bad-bytes\nname: Caf\xe9 Health\npayer_type: bcbs\n")
    proc = run_cli("validate", "--policies", str(policies))
    assert "bad-bytes.yml:2: not UTF-8 text (byte 0xe9 at column 10" in one_clear_line(proc)


# --- payerkb ingest-cms -------------------------------------------------------------------------

def _ingest(policies: Path, path: Path) -> subprocess.CompletedProcess:
    return run_cli("ingest-cms", "--dry-run", "--policies", str(policies), str(path), timeout=60)


@pytest.mark.slow
def test_a_zip_bomb_is_refused_before_it_expands(policies, tmp_path):
    bomb = tmp_path / "april-2026-asp.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z, z.open("asp.csv", "w", force_zip64=True) as f:
        chunk = b"0" * (1 << 20)
        for _ in range(600):
            f.write(chunk)
    assert bomb.stat().st_size < 2 * 2**20
    proc = _ingest(policies, bomb)
    assert proc.returncode == 2
    assert "expands to 600 MiB" in one_clear_line(proc)


def test_an_xlsx_declaring_a_huge_sheet_is_read_as_what_it_holds(policies, tmp_path):
    import openpyxl
    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active["A1"] = "HCPCS Code"
    book.save(plain)
    huge = tmp_path / "april-2026-asp.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', data)
            zout.writestr(item, data)
    proc = _ingest(policies, huge)
    assert proc.returncode == 2
    assert "not a CMS file payerkb knows" in one_clear_line(proc)


@pytest.mark.parametrize("body", [os.urandom(5000), b"a,b\x00c\n" * 10, b"PK\x03\x04" + os.urandom(300)])
def test_random_bytes_named_xlsx_are_a_clear_error(policies, tmp_path, body):
    path = tmp_path / "april-2026-asp.xlsx"
    path.write_bytes(body)
    proc = _ingest(policies, path)
    assert proc.returncode == 2
    err = one_clear_line(proc)
    assert err.startswith("error: ") and "nothing was written" in err
