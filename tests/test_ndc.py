"""The NDC normaliser: what people type -> the 11-digit 5-4-2 form claims carry."""
from __future__ import annotations

import pytest

from payerkb.ndc import NdcError, candidates, is_ambiguous, normalize


@pytest.mark.parametrize("written, ndc_11, layout", [
    ("0002-1433-80", "00002143380", "4-4-2"),      # zero before the labeler
    ("50242-060-01", "50242006001", "5-3-2"),      # zero before the product
    ("50242-0060-1", "50242006001", "5-4-1"),      # zero before the package
    ("50242-0060-01", "50242006001", "5-4-2"),     # already 11 digits
    ("50242006001", "50242006001", "5-4-2"),
    (" 50242 0060 01 ", "50242006001", "5-4-2"),   # spaces as separators, padding trimmed
])
def test_normalize_pads_the_short_segment(written, ndc_11, layout):
    ndc = normalize(written)
    assert ndc.ndc_11 == ndc_11
    assert ndc.layout == layout
    assert ndc.ndc_542 == f"{ndc_11[:5]}-{ndc_11[5:9]}-{ndc_11[9:]}"
    assert ndc.converted == (layout != "5-4-2")


def test_ten_digits_without_dashes_is_refused_with_the_three_readings():
    with pytest.raises(NdcError) as err:
        normalize("0002143380")
    message = str(err.value)
    assert "10 digits and no dashes" in message
    for reading in ("00002-1433-80", "00021-0433-80", "00021-4338-00"):
        assert reading in message
    assert candidates("0002143380") == ["00002143380", "00021043380", "00021433800"]
    assert is_ambiguous("0002143380") and not is_ambiguous("0002-1433-80")


@pytest.mark.parametrize("written, words", [
    ("", "empty"),
    ("12345", "has 5 digits"),
    ("123456789012", "has 12 digits"),
    ("1234-56-7", "split 4-2-1"),
    ("12345-678-901", "split 5-3-3"),
    ("12345-6789", "has 2 parts"),
    ("0002-1433-8O", "'O'"),                       # letter O typed for a zero
    ("N4 00002143380", "'N'"),
])
def test_bad_ndcs_say_what_is_wrong(written, words):
    with pytest.raises(NdcError) as err:
        normalize(written)
    assert words in str(err.value)


def test_non_text_is_refused_so_leading_zeros_are_never_lost():
    with pytest.raises(NdcError, match="an NDC is text"):
        normalize(2143380)  # type: ignore[arg-type]
