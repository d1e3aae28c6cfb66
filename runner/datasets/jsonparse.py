"""Parse one line of JSON data: the standard library's semantics, orjson's speed, and bounds hostile input cannot pass.

Every JSONL line ftrun reads (data files and template sources) goes through `parse_line`, and every element of a
JSON array source through `decode_at`. The value is exactly what
`json.loads` gives: orjson parses each line first, and the few lines where the two could differ (orjson refuses
them, or they hold an integer too long for 64 bits, which orjson reads as a float) are parsed again by `json.loads`.
Every failure is a `JsonLineError` with a readable message, never a RecursionError or a ValueError from deep in the
parser: a value nested deeper than MAX_DEPTH, an integer longer than Python converts, invalid UTF-8 (with its column).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import orjson

MAX_DEPTH = 100  # nesting of arrays and objects in one line (chat data needs a handful)

# 19 digits in a row may be an integer past 64 bits, which orjson reads as a float where json gives an int; more
# than MAX_DEPTH opening brackets may nest too deep. One translation of the line finds both (much faster than a
# regular expression): digits become "0", opening brackets "[", everything else " ".
_SHAPE = bytes(0x30 if 0x30 <= b <= 0x39 else 0x5B if b in (0x5B, 0x7B) else 0x20 for b in range(256))
_NINETEEN_ZEROS = b"0" * 19
_LONG_INTEGER_TEXT = re.compile(r"\d{19}")


class JsonLineError(ValueError):
    """A line that is not acceptable JSON; `check` is "invalid_utf8" or "invalid_json"."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.message = message
        self.line: int | None = None  # where a multi-line text says


def too_deep(value: Any) -> bool:
    """Whether arrays and objects nest in `value` more than MAX_DEPTH levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _deep_message() -> str:
    return f"not valid JSON: values are nested more than {MAX_DEPTH} levels deep"


def _stdlib_error(e: Exception) -> JsonLineError:
    if isinstance(e, json.JSONDecodeError):
        error = JsonLineError("invalid_json", f"not valid JSON: {e.msg} at column {e.colno}")
        error.line = e.lineno
        return error
    if isinstance(e, RecursionError):
        return JsonLineError("invalid_json", _deep_message())
    # a ValueError: an integer longer than int-string conversion allows
    limit = sys.get_int_max_str_digits()
    return JsonLineError("invalid_json", f"not valid JSON: an integer longer than {limit:,} digits")


def _stdlib(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _stdlib_error(e) from None


_DECODER = json.JSONDecoder()


def decode_at(text: str, index: int) -> tuple[Any, int]:
    """The JSON value that starts at `text[index]`, and the index after it (to read a JSON array element by element),
    held to the same bounds as a line. On failure, `JsonLineError.line` is the line within `text` where known."""
    try:
        value, end = _DECODER.raw_decode(text, index)
    except (ValueError, RecursionError) as e:
        raise _stdlib_error(e) from None
    if isinstance(value, dict | list) and too_deep(value):
        raise JsonLineError("invalid_json", _deep_message())
    return value, end


def utf8_error(data: bytes, offset: int) -> tuple[int, str]:
    """The 1-based line of the invalid UTF-8 at byte `offset` of `data`, and a message naming its column."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, f"invalid UTF-8 (byte 0x{data[offset]:02x}) at column {column}"


def decode(raw: bytes) -> str:
    """The line as text; invalid UTF-8 fails naming its column (in characters)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonLineError("invalid_utf8", utf8_error(raw, e.start)[1]) from None


def parse_line(line: bytes | str, *, fast: bool = True) -> Any:
    """The JSON value of one line (without its line ending), as `json.loads` reads it. `fast=False` uses only the
    standard library (the reference the fast path is tested against)."""
    if isinstance(line, bytes):
        shape = line.translate(_SHAPE)
        long_integer = _NINETEEN_ZEROS in shape
        brackets = shape.count(b"[")
    else:
        long_integer = _LONG_INTEGER_TEXT.search(line) is not None
        brackets = line.count("[") + line.count("{")
    value: Any = None
    parsed = False
    if fast and not long_integer:
        try:
            value = orjson.loads(line)
            parsed = True
        except orjson.JSONDecodeError:
            pass  # described (or, for what only the standard library accepts, read) below
    if not parsed:
        value = _stdlib(decode(line) if isinstance(line, bytes) else line)
    if brackets > MAX_DEPTH and isinstance(value, dict | list) and too_deep(value):
        raise JsonLineError("invalid_json", _deep_message())
    return value
