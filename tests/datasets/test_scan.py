"""The parallel scan over byte ranges gives exactly the single-process result."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.datasets.scan import _merge, _ranges, percentiles, scan_file, scan_range


def test_ranges_start_at_line_starts(tmp_path: Path) -> None:
    data = b"".join(b"x" * (i % 7) + b"\n" for i in range(100))
    path = tmp_path / "f"
    path.write_bytes(data)
    for parts in (1, 2, 3, 10, 50):
        ranges = _ranges(path, len(data), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a == b for (_, a), (b, _) in zip(ranges, ranges[1:], strict=False))
        assert all(data[a - 1 : a] == b"\n" for a, _ in ranges[1:])


@pytest.mark.slow
def test_parallel_scan_equals_serial(tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]) -> None:
    examples = [chat(i % 150) for i in range(400)]  # duplicates across chunk borders
    path = tmp_path / "d.jsonl"
    middle = b"[1]\n\n"
    path.write_bytes(
        b"\xef\xbb\xbf" + jsonl(*examples[:50]) + middle + jsonl(*examples[50:]) + b'{"messages": "x"}\r\n'
    )
    serial = scan_file(path, "supervised", "o200k_base", 20, workers=1)
    parallel = scan_file(path, "supervised", "o200k_base", 20, workers=2, parallel_min_bytes=0, chunk_bytes=7_000)
    assert parallel.findings == serial.findings
    assert parallel.counts == serial.counts
    assert list(parallel.tokens) == list(serial.tokens)
    assert (parallel.lines, parallel.examples, parallel.total_tokens, parallel.billed_tokens) == (
        serial.lines,
        serial.examples,
        serial.total_tokens,
        serial.billed_tokens,
    )
    assert serial.counts["duplicate_example"] == 250 and serial.counts["over_context_limit"] == 400


def _scan_in_daemon(path: str, out: Any) -> None:
    res = scan_file(Path(path), "supervised", "o200k_base", 20, workers=2, parallel_min_bytes=0, chunk_bytes=1_000)
    out.put((res.examples, res.total_tokens))


@pytest.mark.slow
def test_scan_falls_back_to_one_process_where_workers_cannot_start(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]
) -> None:
    import multiprocessing

    path = tmp_path / "d.jsonl"
    path.write_bytes(jsonl(*(chat(i) for i in range(30))))
    expected = scan_file(path, "supervised", "o200k_base", 20, workers=1)
    queue: Any = multiprocessing.Queue()
    daemon = multiprocessing.Process(target=_scan_in_daemon, args=(str(path), queue), daemon=True)
    daemon.start()
    got = queue.get(timeout=60)
    daemon.join(timeout=10)
    assert got == (expected.examples, expected.total_tokens)


_LINES = st.sampled_from(
    [
        b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
        '{"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "x"}]}'.encode(),
        b'{"messages": []}',
        b"[1]",
        b"{not json",
        b"\xff\xfe",
        b"",
        b"   ",
    ]
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_LINES, st.booleans()), max_size=40), st.integers(min_value=1, max_value=9))
def test_merged_ranges_equal_one_pass(tmp_path_factory: pytest.TempPathFactory, lines: Any, parts: int) -> None:
    """Whatever the lines and however the file is cut, merging the ranges gives the one-pass result."""
    path = tmp_path_factory.mktemp("merge") / "d.jsonl"
    path.write_bytes(b"".join(raw + (b"\r\n" if crlf else b"\n") for raw, crlf in lines))
    size = path.stat().st_size
    whole = _merge([scan_range(path, 0, size, "supervised", "o200k_base", 20)])
    pieces = _merge([scan_range(path, a, b, "supervised", "o200k_base", 20) for a, b in _ranges(path, size, parts)])
    assert pieces.findings == whole.findings
    assert pieces.counts == whole.counts
    assert list(pieces.tokens) == list(whole.tokens)
    assert (pieces.lines, pieces.examples, pieces.total_tokens) == (whole.lines, whole.examples, whole.total_tokens)
    assert whole.lines == len(lines)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=70_000), max_size=60))
def test_percentiles_from_histogram_equal_nearest_rank(values: list[int]) -> None:
    qs = (0.1, 0.5, 0.9, 1.0)
    ordered = sorted(values)
    expected = tuple(ordered[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0 for q in qs)
    assert percentiles(array("I", values), qs) == expected
