"""The value types of policies/' fields (pydantic annotated types), defined here once: db/schema.py
and formats/scraped.py build their models from them."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from urllib.parse import urlparse

from pydantic import AfterValidator, Field

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


def iso_date(value, what: str | None = None) -> str:
    """A date as ISO text (YYYY-MM-DD): a date object, or text written so; else ValueError saying
    why, starting with `what` (the field or parameter) when given. The one date check of payerkb:
    policy files, the claim-context answer, the drug pages' dates."""
    prefix = f"{what}: " if what else ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"{prefix}dates are written YYYY-MM-DD, got {value!r}")
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"{prefix}{text[:20]!r} is not a date written YYYY-MM-DD (e.g. 2026-03-01)")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{prefix}{text!r} is not a real calendar date") from None
    return text


def _check_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"source URLs must be http(s) addresses, got {value!r}")
    if any(ch.isspace() for ch in value):
        raise ValueError(f"a URL cannot contain spaces: {value!r}")
    return value


def _check_hcpcs(value: str) -> str:
    if not re.fullmatch(r"[A-V][0-9]{4}", value):
        raise ValueError(
            f"{value!r} is not a HCPCS Level II code (a letter A-V and four digits, e.g. J3590)"
        )
    return value


IsoDate = Annotated[str, AfterValidator(iso_date)]
HttpUrl = Annotated[str, AfterValidator(_check_url)]
Slug = Annotated[str, Field(pattern=SLUG, max_length=80)]
HcpcsCode = Annotated[str, AfterValidator(_check_hcpcs)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
