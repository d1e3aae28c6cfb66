"""Text from elsewhere (a model's answer, a job's event) made safe to print on a terminal."""

from __future__ import annotations

import re

# Escape sequences first (so no "[31m" is left behind), then every other control character but newline and tab,
# and the replacement character that stands for bytes that were not valid UTF-8.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\u2028\u2029]")


def printable(text: str) -> str:
    """`text` without terminal escapes, control characters (newlines and tabs kept) or invalid-byte markers."""
    return _CONTROL.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
