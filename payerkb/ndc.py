"""National Drug Codes: turn what people type into the 11-digit 5-4-2 form claims carry.

A package NDC has 10 digits in one of three layouts (4-4-2, 5-3-2, 5-4-1). Claims use 11 digits
(5-4-2): a leading zero is added to the short segment. Written without dashes, a 10-digit NDC is
ambiguous (the zero could go in any of three places), so `normalize` refuses it and
`candidates` lists the three readings for a caller that can look them up (in the CMS crosswalk).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# segment lengths as written -> index of the segment that gets the leading zero (None: already 5-4-2)
LAYOUTS = {(4, 4, 2): 0, (5, 3, 2): 1, (5, 4, 1): 2, (5, 4, 2): None}


class NdcError(ValueError):
    """The text is not an NDC; the message says what is wrong with it."""


@dataclass(frozen=True)
class Ndc:
    ndc_11: str  # 11 digits, no separators
    layout: str  # how it was written: 4-4-2, 5-3-2, 5-4-1 or 5-4-2
    written: str  # the text as given (stripped)

    @property
    def ndc_542(self) -> str:
        return f"{self.ndc_11[:5]}-{self.ndc_11[5:9]}-{self.ndc_11[9:]}"

    @property
    def converted(self) -> bool:
        """True when a 10-digit NDC was padded to 11 digits."""
        return self.layout != "5-4-2"


def _pad(segments: list[str], layout: tuple[int, int, int]) -> str:
    where = LAYOUTS[layout]
    if where is not None:
        segments = list(segments)
        segments[where] = "0" + segments[where]
    return "".join(segments)


def _clean(text) -> str:
    if not isinstance(text, str):
        raise NdcError(f"an NDC is text (digits and dashes), got {type(text).__name__} {text!r}")
    cleaned = text.strip()
    if not cleaned:
        raise NdcError("the NDC is empty")
    bad = sorted({ch for ch in cleaned if not (ch.isascii() and ch.isdigit()) and ch not in "- "})
    if bad:
        raise NdcError(
            f"NDC {cleaned!r} contains {', '.join(repr(c) for c in bad)}: "
            "an NDC is digits, optionally split by dashes (e.g. 00002-1433-80)"
        )
    return cleaned


def normalize(text: str) -> Ndc:
    """The NDC in 11-digit form, or NdcError saying why `text` is not one.

    Accepts 5-4-2 with or without dashes (or spaces), and 10-digit NDCs written with dashes in
    the 4-4-2, 5-3-2 or 5-4-1 layouts.
    """
    if isinstance(text, str):
        return _normalize(text)  # Ndc is frozen, so a remembered one is safe to hand out again
    return _normalize_text(text)


@functools.lru_cache(maxsize=8192)
def _normalize(text: str) -> Ndc:
    return _normalize_text(text)


def _normalize_text(text) -> Ndc:
    cleaned = _clean(text)
    segments = [s for s in re.split(r"[- ]+", cleaned) if s]
    if len(segments) == 1:
        digits = segments[0]
        if len(digits) == 11:
            return Ndc(digits, "5-4-2", cleaned)
        if len(digits) == 10:
            readings = ", ".join(f"{c[:5]}-{c[5:9]}-{c[9:]}" for c in candidates(digits))
            raise NdcError(
                f"NDC {cleaned!r} has 10 digits and no dashes, so it could be read as {readings}: "
                "write it with the dashes printed on the package (4-4-2, 5-3-2 or 5-4-1)"
            )
        raise NdcError(f"NDC {cleaned!r} has {len(digits)} digits; an NDC has 10 (as printed) or 11")
    if len(segments) != 3:
        raise NdcError(
            f"NDC {cleaned!r} has {len(segments)} parts; an NDC has three "
            "(labeler-product-package, e.g. 0002-1433-80 or 00002-1433-80)"
        )
    layout = tuple(len(s) for s in segments)
    if layout not in LAYOUTS:
        raise NdcError(
            f"NDC {cleaned!r} is split {'-'.join(map(str, layout))}; an NDC is split "
            "4-4-2, 5-3-2 or 5-4-1 (10 digits) or 5-4-2 (11 digits)"
        )
    return Ndc(_pad(segments, layout), "-".join(map(str, layout)), cleaned)


def candidates(ten_digits: str) -> list[str]:
    """The three 11-digit readings of a 10-digit NDC written without dashes."""
    if not re.fullmatch(r"\d{10}", ten_digits):
        raise NdcError(f"{ten_digits!r} is not 10 digits")
    d = ten_digits
    return [
        _pad([d[:4], d[4:8], d[8:]], (4, 4, 2)),
        _pad([d[:5], d[5:8], d[8:]], (5, 3, 2)),
        _pad([d[:5], d[5:9], d[9:]], (5, 4, 1)),
    ]


def is_ambiguous(text: str) -> bool:
    """True for 10 digits with no separators (see `candidates`)."""
    return isinstance(text, str) and re.fullmatch(r"\s*\d{10}\s*", text) is not None
