"""Template sources that would crash a parser are one SourceError with the line: deep nesting, over-long integers,
and invalid UTF-8 (with its column)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.datasets.sources import SourceError, read_records

DEEP = "[" * 100_000 + "]" * 100_000
LONG_INT = "9" * 5001


@pytest.mark.parametrize(
    ("fmt", "data", "line", "words"),
    [
        ("jsonl", f'{{"q": 1}}\n{{"q": {DEEP}}}\n', 2, "nested more than 100 levels"),
        ("jsonl", f'{{"q": 1}}\n\n{{"q": {LONG_INT}}}\n', 3, "integer longer than"),
        ("jsonl", b'{"q": 1}\n{"q": "caf\xe9"}\n', 2, "invalid UTF-8 (byte 0xe9) at column 11"),
        ("json", f'[{{"q": 1}},\n {{"q": {DEEP}}}]', 2, "nested more than 100 levels"),
        ("json", f'[{{"q": 1}},\n {{"q": {"[" * 101 + "]" * 101}}}]', 2, "nested more than 100 levels"),
        ("json", f'[{{"q": 1}},\n {{"q": {LONG_INT}}}]', 2, "integer longer than"),
        ("json", b'[{"q": 1},\n {"q": "caf\xe9"}]', 2, "invalid UTF-8 (byte 0xe9) at column 12"),
        ("csv", b"q,a\nx,y\ncaf\xe9,y\n", 3, "invalid UTF-8 (byte 0xe9) at column 4"),
    ],
)
@pytest.mark.parametrize("given_as", ["bytes", "file"])
def test_hostile_source_is_one_error_with_its_line(
    tmp_path: Path, fmt: str, data: str | bytes, line: int, words: str, given_as: str
) -> None:
    raw = data.encode() if isinstance(data, str) else data
    path = tmp_path / f"source.{fmt}"
    path.write_bytes(raw)
    with pytest.raises(SourceError) as e:
        list(read_records(raw if given_as == "bytes" else path, fmt, {}))
    assert e.value.line == line and words in str(e.value), str(e.value)
    assert len(str(e.value)) < 200
