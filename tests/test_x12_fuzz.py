"""Hypothesis: segment soup at the X12 reader and at the check and explain built on it. Whatever
comes in, the answer is a report with errors naming segments, never an exception."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import x12_build
from payerkb import x12
from payerkb.x12_check import check_837
from payerkb.x12_explain import explain_835

pytestmark = pytest.mark.fuzz

FIX = Path(__file__).resolve().parent / "fixtures" / "x12"
TAGS = ["ISA", "GS", "ST", "SE", "GE", "IEA", "BHT", "NM1", "HL", "N4", "SBR", "CLM", "LX", "SV1", "SV2", "DTP",
        "REF", "PWK", "NTE", "LIN", "CTP", "SVD", "CLP", "SVC", "CAS", "LQ", "MOA", "MIA", "DTM", "AMT", "N1", "PLB",
        "XX", "1", "", "ISA*"]
VALUES = ["", "837", "835", "005010X222A1", "005010X223A2", "005010X221A1", "HC:J3590:JZ::::DRUG 1 MG IV",
          "HC:J3490", "N4", "12345678901", "PR", "85", "20", "22", "23", "472", "D8", "20260115", "RD8",
          "20261399", "13:A:1", "11:B:1", "CO", "16", "M119", "1e309", "-1", "nan", "9" * 40, "G1", "0001",
          "PALMETTO GBA", "WPS", "GA", "~", "*", ":", "^", "\r\n", "\x00", "é"]
segment = st.builds(lambda tag, els: "*".join([tag, *els]), st.sampled_from(TAGS),
                    st.lists(st.one_of(st.sampled_from(VALUES), st.text(max_size=12)), max_size=8))
GOOD_ISA = x12_build.isa("1", x12_build.Seps())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment, max_size=60), st.booleans())
def test_reader_never_raises_on_segment_soup(segments, with_isa):
    text = ((GOOD_ISA + "~\n") if with_isa else "") + "~\n".join(segments) + "~"
    reader = x12.read(text)
    for tx in reader.transactions:
        if tx.kind == "835":
            x12.payments_835(tx)
        else:
            x12.claims_837(tx)
    assert all(isinstance(e.message, str) and "\n" not in e.message for e in reader.errors)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_reader_never_raises_on_bytes(data):
    x12.read(data)
    x12.read(b"ISA" + data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=4000), noise=st.lists(segment, max_size=6),
       which=st.sampled_from(["professional.837", "institutional.837", "remittance.835"]))
def test_check_and_explain_answer_damaged_files(built_db, cut, noise, which):
    text = (FIX / which).read_text(encoding="ascii")
    cut = min(cut, len(text))
    damaged = text[:cut] + "~\n".join(noise) + text[cut:]
    report = check_837(damaged, built_db) if which.endswith(".837") else explain_835(damaged, built_db)
    assert set(report) >= {"claims", "errors", "summary"}
    for e in report["errors"]:
        assert isinstance(e["error"], str)
