"""Bad X12 files: exit 2 with the segment number and one clear line each, never a traceback; a
partial file still reports what it could read."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import x12_build
from payerkb import x12

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "x12"
GOOD = (FIX / "professional.837").read_text(encoding="ascii")


def run_cli(*args, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "payerkb.cli", *args], input=input, capture_output=True,
                          timeout=120, cwd=ROOT)


def _first_interchange() -> str:
    return GOOD[:GOOD.index("ISA|")]


def _body(text: str) -> bytes:
    return text.encode("latin-1")


CASES = {
    "not X12": (b"hello, this is not a claim file\n", None, "not an X12 file"),
    "element separator a letter": (_body("ISAX00X" + _first_interchange()[7:]), 1, "element separator"),
    "separators not distinct": (_body(_first_interchange().replace("*T*:~", "*T***", 1)), 1, "not distinct"),
    "no segment terminator": (_body(_first_interchange()[:105]), 1, "no segment terminator"),
    "truncated ISA": (b"ISA*00*   ", 1, "fewer than 16 elements"),
    "terminator the file does not use": (_body(_first_interchange().replace("~\n", "\n").replace("*:\n", "*:~", 1)),
                                         2, "segment terminator ISA declares"),
    "truncated": (_body(_first_interchange()[:1200]), None, "truncated"),
    "SE count wrong": (_body(_first_interchange().replace("SE*49*0001", "SE*47*0001")), 51,
                       "SE01 says 47 segments in transaction set 0001; there are 49"),
    "unknown transaction set": (_body(_first_interchange().replace("ST*837*0001*005010X222A1", "ST*850*0001*004010")),
                                3, "transaction set 850 is not one payerkb reads"),
    "dental 837": (_body(_first_interchange().replace("ST*837*0001*005010X222A1", "ST*837*0001*005010X224A2")),
                   3, "837 version 005010X224A2 is not one payerkb reads"),
    "garbage after IEA": (_body(_first_interchange() + "HELLO"), None, "not another ISA interchange"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reader_reports_the_segment_and_one_line(name):
    data, segment, message = CASES[name]
    reader = x12.read(data)
    assert reader.errors, name
    hit = next((e for e in reader.errors if message in e.message), None)
    assert hit is not None, [str(e) for e in reader.errors]
    if segment is not None:
        assert hit.segment == segment, str(hit)
    assert all("\n" not in str(e) for e in reader.errors)


@pytest.mark.parametrize("name", ["not X12", "truncated", "SE count wrong", "unknown transaction set",
                                  "no segment terminator"])
@pytest.mark.slow
def test_check_exits_2_without_a_traceback(built_db, tmp_path, name):
    data, segment, message = CASES[name]
    path = tmp_path / "claims.837"
    path.write_bytes(data)
    proc = run_cli("check", str(path), "--db", str(built_db), "--format", "x12")
    err = proc.stderr.decode()
    assert proc.returncode == 2, (proc.stdout, err)
    assert "Traceback" not in err and message in err
    if segment is not None:
        assert f"segment {segment}: " in err
    explained = run_cli("explain", str(path), "--db", str(built_db))
    assert explained.returncode == 2 and "Traceback" not in explained.stderr.decode()


def test_a_partial_file_reports_what_it_could_read(built_db, tmp_path):
    text = _first_interchange()
    cut = text.index("CLM*PAT3-0001")  # the file stops inside the transaction set, before the third claim
    path = tmp_path / "cut.837"
    path.write_bytes(_body(text[:cut]))
    proc = run_cli("check", str(path), "--db", str(built_db), "--json")
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert [c["claim_id"] for c in report["claims"]] == ["PAT1-0001", "PAT2-0001"]
    assert any("truncated" in e["error"] for e in report["errors"])
    assert "truncated" in proc.stderr.decode()


def test_sizes_are_bounded_before_parsing(built_db, tmp_path, monkeypatch):
    big = x12.read(b"ISA" + b" " * (x12.MAX_BYTES + 1))
    assert "larger than" in big.errors[0].message and big.transactions == []
    few = x12.read(GOOD.encode(), max_segments=10)
    assert "more than 10 segments" in few.errors[0].message
    long = x12_build.envelope([x12_build.header_837() + [["NTE", "ADD", "X" * (x12.MAX_SEGMENT_CHARS + 10)]]])
    assert any("longer than" in e.message for e in x12.read(long).errors)


def test_cli_refuses_an_oversized_file(built_db, tmp_path):
    path = tmp_path / "big.837"
    with path.open("wb") as fh:
        fh.write(b"ISA")
        fh.truncate(x12.MAX_BYTES + 10)
    proc = run_cli("check", str(path), "--db", str(built_db))
    assert proc.returncode == 2 and b"larger than 32 MiB" in proc.stderr and b"Traceback" not in proc.stderr


def test_ge_and_iea_counts_are_checked():
    text = _first_interchange().replace("GE*1*101", "GE*2*101").replace("IEA*1*000000101", "IEA*1*000000999")
    messages = [e.message for e in x12.read(text).errors]
    assert any("GE01 says 2" in m for m in messages) and any("does not match ISA13" in m for m in messages)
