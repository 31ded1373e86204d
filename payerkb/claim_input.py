"""Read claim lines from a file or standard input without trusting it.

The input is one JSON object, a JSON array of objects, or JSON Lines. JSON Lines are read one line
at a time (a 50 MB file is never held whole); a single document is read up to MAX_DOCUMENT bytes.
Every problem (not UTF-8, a line longer than MAX_LINE, nesting too deep, a number too long, not
JSON) becomes a ClaimInputError naming the line, never a traceback.
"""
from __future__ import annotations

import json
from typing import BinaryIO, Iterator

from payerkb.claim import ClaimInputError

MAX_LINE = 256 * 1024  # the same cap as POST /-/check
MAX_DOCUMENT = 8 * 1024 * 1024
MAX_LINES = 1_000_000


class InputTooLarge(Exception):
    """The input cannot be read within the bounds: reading stops here."""


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClaimInputError(None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1} of line {line})") from None


def parse_json(text: str, line: int) -> object:
    """json.loads, with every way it can fail turned into a ClaimInputError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line + exc.lineno - 1}, column {exc.colno}"
        raise ClaimInputError(None, f"not valid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise ClaimInputError(None, f"JSON nested too deeply (line {line})") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ClaimInputError(None, f"not a usable JSON value on line {line}: {str(exc).split(';')[0]}") from None


def _items(value: object, line: int) -> Iterator[tuple[int, object]]:
    if isinstance(value, list):
        for i, item in enumerate(value, 1):
            yield (i, item)
    else:
        yield (line, value)


def iter_claim_lines(stream: BinaryIO) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON or ClaimInputError); raises InputTooLarge when it must stop."""
    first = stream.readline(MAX_LINE + 1)
    if len(first) > MAX_LINE and not first.endswith(b"\n"):
        raise InputTooLarge(f"line 1 is longer than {MAX_LINE // 1024} KiB: give one claim line per line (JSON Lines)")
    if not first.strip():
        rest = stream.read(MAX_DOCUMENT + 1)
        if not rest.strip():
            yield (1, ClaimInputError(None, "the input is empty: give a JSON claim line, or JSON Lines"))
            return
        first, rest_lines = rest, True
    else:
        rest_lines = False
    try:
        head = _decode(first, 1)
    except ClaimInputError as exc:
        yield (1, exc)
        return
    if rest_lines or head.lstrip().startswith("["):
        yield from _document(head, stream)
        return
    try:
        yield from _items(parse_json(head, 1), 1)
    except ClaimInputError:
        # a pretty-printed object spans lines: read it as one document
        yield from _document(head, stream)
        return
    yield from _json_lines(stream, start=2)


def _document(head: str, stream: BinaryIO) -> Iterator[tuple[int, object]]:
    rest = stream.read(MAX_DOCUMENT + 1 - len(head))
    if len(head) + len(rest) > MAX_DOCUMENT:
        raise InputTooLarge(f"a single JSON document is limited to {MAX_DOCUMENT // (1024 * 1024)} MiB: "
                            "give large batches as JSON Lines")
    try:
        text = head + _decode(rest, 1)
    except ClaimInputError as exc:
        yield (1, exc)
        return
    try:
        value = parse_json(text, 1)
    except ClaimInputError as exc:
        yield (1, exc)
        return
    yield from _items(value, 1)


def _json_lines(stream: BinaryIO, start: int) -> Iterator[tuple[int, object]]:
    number = start - 1
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if number > MAX_LINES:
            raise InputTooLarge(f"more than {MAX_LINES:,} lines: split the file")
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raise InputTooLarge(f"line {number} is longer than {MAX_LINE // 1024} KiB; stopped reading")
        if not raw.strip():
            continue
        try:
            yield (number, parse_json(_decode(raw, number), number))
        except ClaimInputError as exc:
            yield (number, exc)
