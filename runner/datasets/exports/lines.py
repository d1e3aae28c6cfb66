"""A source's lines, streamed: as bytes (for the JSON parser) or as text (for CSV and text exports)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from runner.datasets.sources import SourceError, decoded_lines


def byte_lines(data: bytes | Path) -> Iterator[bytes]:
    if isinstance(data, Path):
        with data.open("rb") as f:
            yield from f
    else:
        yield from data.splitlines(keepends=True)


def text_lines(data: bytes | Path) -> Iterator[str]:
    """Lines as text, line endings kept, a byte-order mark dropped; invalid UTF-8 fails naming its line."""
    if isinstance(data, Path):
        yield from decoded_lines(data)
        return
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(f"invalid UTF-8 at byte {e.start} of the line", lineno) from e
        yield line.removeprefix("\ufeff") if lineno == 1 else line


def json_events(
    data: bytes | Path, items: frozenset[str], values: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str, int, Any]]:
    """Walk one JSON document incrementally (ijson), line by line, yielding what was asked for:

    - ("item", prefix, line, value) for each whole value whose path is in `items` (e.g. "messages.item"), with the
      line it starts on;
    - ("value", prefix, line, value) for each scalar whose path is in `values` (e.g. "name");
    - ("array", prefix, line, None) when an array whose path is in `items` without its ".item" opens.

    Only one item is held in memory at a time. Invalid JSON fails naming the line.
    """
    arrays = frozenset(p.removesuffix(".item") for p in items if p.endswith(".item"))
    events: list[tuple[str, str, Any]] = ijson.sendable_list()
    coro = ijson.parse_coro(events, use_float=True)
    builder: Any = None
    building = ""
    start = 0
    lineno = 0

    def drain() -> Iterator[tuple[str, str, int, Any]]:
        nonlocal builder, building, start
        for prefix, event, value in events:
            if builder is not None:
                builder.event(event, value)
                if prefix == building and event in ("end_map", "end_array"):
                    yield "item", building, start, builder.value
                    builder = None
                continue
            if prefix in items:
                if event in ("start_map", "start_array"):
                    builder, building, start = ijson.ObjectBuilder(), prefix, lineno
                    builder.event(event, value)
                elif event not in ("map_key", "end_map", "end_array"):
                    yield "item", prefix, lineno, value
            elif prefix in values and event in ("string", "number", "boolean", "null"):
                yield "value", prefix, lineno, value
            elif prefix in arrays and event == "start_array":
                yield "array", prefix, lineno, None
        del events[:]

    try:
        for lineno, line in enumerate(byte_lines(data), start=1):  # noqa: B007 - drain() reads lineno
            coro.send(line)
            if events:
                yield from drain()
        coro.close()
        if events:
            yield from drain()
    except ijson.JSONError as e:
        message = str(e).splitlines()[0] if str(e) else "incomplete document"
        raise SourceError(f"not valid JSON: {message}", max(lineno, 1)) from e
