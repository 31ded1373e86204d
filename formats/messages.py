"""Pydantic's validation errors in payerkb's words, defined once: `payerkb validate` (a key of a
file in policies/, with the file and line added by db/validate.py), the build's scraped records,
the CMS manifest, and the claim check (a field of a claim line) all say them this way."""
from __future__ import annotations

import difflib
import reprlib
from typing import Any, Iterable


def short(value: Any, limit: int = 60) -> str:
    """repr() cut to a readable length: a value can be huge (YAML aliases expand)."""
    text = reprlib.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def location(loc: Iterable) -> str:
    """A pydantic error location as written in a file: rules[2].topic."""
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")


def did_you_mean(value: Any, names: Iterable[str]) -> str:
    guess = difflib.get_close_matches(str(value)[:100], list(names), n=1)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def describe(err: dict, *, noun: str = "key", known: Iterable[str] = (), type_words: dict | None = None) -> str:
    """One error of a ValidationError (`exc.errors()`) as a message. `noun` is what the input's
    names are called (key, field); `known`, the names it may have (for a misspelt one);
    `type_words`, plainer words for pydantic's type errors by error type."""
    kind, value = err["type"], err.get("input")
    loc = location(err["loc"])
    if kind == "extra_forbidden":
        name = err["loc"][-1]
        known = list(known)
        hint = did_you_mean(name, known) or (f" ({noun}s: {', '.join(known)})" if known else "")
        return f"{loc}: unknown {noun} {name!r}{hint}"  # every message starts with where
    if kind == "missing":
        return f"{loc}: required {noun} is missing"
    if kind in ("literal_error", "enum"):
        allowed = [a.strip().strip("'") for a in err["ctx"]["expected"].replace(" or ", ", ").split(",")]
        return f"{loc}: {short(value)} is not one of {', '.join(allowed)}{did_you_mean(value, allowed)}"
    if kind == "string_pattern_mismatch":
        return f"{loc}: {short(value)} has the wrong form (expected pattern {err['ctx']['pattern']})"
    if type_words and kind in type_words:
        return f"{loc}: {type_words[kind]} (got {short(value)})"
    msg = err["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        kind_name = "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else type(value).__name__
        return f"{loc}: {msg} (got {kind_name} {short(value)})"
    return f"{loc}: {msg}" if loc else msg
