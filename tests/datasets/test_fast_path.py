"""The fast scan (orjson, remembered counts, parallel workers) finds and counts exactly what the plain one does."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from runner.datasets.jsonparse import MAX_DEPTH, JsonLineError, parse_line
from runner.datasets.scan import scan_file

EDGE_LINES = [
    b'{"a": 18446744073709551616, "b": -9223372036854775809, "c": 123456789012345678901234567890}',
    b'{"a": 9223372036854775807, "b": 18446744073709551615, "c": -9223372036854775808}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400}',
    b'{"a": "\\ud800 lone surrogate", "b": "\\udc00"}',
    b'{"a": 1, "a": 2}',
    b'{"a": 0.1, "b": -0.0, "c": 1E2, "d": 5e-324, "e": 1.7976931348623157e308}',
    '{"a": "caf\u00e9 \u6d88\u606f \U0001f600"}'.encode(),
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b'  {"a": [1, 2, {"b": null}]}  ',
    b'"' + b"[" * 500 + b'"',  # brackets inside a string are no nesting
]

BAD_LINES = [
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b"[" * 100_000 + b"]" * 100_000,
    b'{"n": ' + b"7" * 5001 + b"}",
    b'{"a": "caf\xe9"}',
    b'{"a": 1,}',
    b'{"a": 1} trailing',
    b"\xef\xbb\xbf{}",
    b"",
]


@pytest.mark.parametrize("line", EDGE_LINES, ids=range(len(EDGE_LINES)))
def test_fast_parse_gives_what_json_loads_gives(line: bytes) -> None:
    expected = json.loads(line.decode("utf-8"))
    for value in (parse_line(line), parse_line(line, fast=False), parse_line(line.decode("utf-8"))):
        assert json.dumps(value) == json.dumps(expected)
        assert _types(value) == _types(expected)


@pytest.mark.parametrize("line", BAD_LINES, ids=range(len(BAD_LINES)))
def test_fast_and_plain_parse_refuse_alike(line: bytes) -> None:
    errors = []
    for fast in (True, False):
        with pytest.raises(JsonLineError) as e:
            parse_line(line, fast=fast)
        errors.append((e.value.check, e.value.message))
    assert errors[0] == errors[1]
    assert "Recursion" not in errors[0][1] and len(errors[0][1]) < 200


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def _generated(path: Path, n: int) -> None:
    """Chat and odd lines: non-string values, big integers, duplicates, blank and broken lines, CRLF."""
    rng = random.Random(7)
    words = ["model", "token", "的", "是", "café", "order", "refund", "#12", "'s", "  ", "\n", "\t", "ß", "x" * 40]
    lines: list[bytes] = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
        messages: list[Any] = [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"{i} {text}"},
            {"role": "assistant", "content": text, "weight": rng.choice([0, 1])},
        ]
        kind = i % 11
        if kind == 1:
            messages[2]["tool_calls"] = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        elif kind == 2:
            messages[1]["content"] = [{"type": "text", "text": text}, 2**70, -(2**65)]
        elif kind == 3:
            messages[1]["role"] = ["x"]
        elif kind == 4:
            messages.append({"role": "assistant", "content": None, "name": "bot"})
        line = json.dumps({"messages": messages}, ensure_ascii=kind % 2 == 0).encode()
        if kind == 5:
            line = line.replace(b'"weight": 1', b'"weight": 18446744073709551616')
        elif kind == 6:
            line = lines[-1] if lines else line  # a duplicate
        elif kind == 7 and i % 3 == 0:
            line = b'{"messages": [oops'
        elif kind == 8 and i % 3 == 0:
            line = b"   "
        elif kind == 9 and i % 3 == 0:
            line = line + b"\r"
        elif kind == 10 and i % 3 == 0:
            line = b'{"messages": "caf\xe9"}'
        lines.append(line)
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_fast_scan_finds_and_counts_what_the_plain_scan_does(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    _generated(path, 600)
    plain = scan_file(path, "supervised", "o200k_base", 200, workers=1, fast=False)
    fast = scan_file(path, "supervised", "o200k_base", 200, workers=1)
    parallel = scan_file(path, "supervised", "o200k_base", 200, workers=2, parallel_min_bytes=0, chunk_bytes=4096)
    assert plain.examples > 400 and plain.total_tokens > 10_000 and plain.over_limit > 0
    assert set(plain.counts) >= {"duplicate_example", "invalid_json", "blank_line", "invalid_utf8", "unrecognized_role"}
    for other in (fast, parallel):
        assert asdict(other) == asdict(plain)


def test_fast_scan_counts_like_the_plain_scan_in_cl100k(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    _generated(path, 200)
    plain = scan_file(path, "supervised", "cl100k_base", 65_536, workers=1, fast=False)
    fast = scan_file(path, "supervised", "cl100k_base", 65_536, workers=1)
    assert asdict(fast) == asdict(plain)
