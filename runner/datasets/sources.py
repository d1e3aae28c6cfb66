"""Read a template's source as records, each with the line it starts on.

Formats: `csv` (a header row, then one record per row), `jsonl` (one object per line), `json` (an array of objects),
and `chat_history` (a CSV export of messages with columns time, sender, text, turned into one record per
conversation; see `chat_history.py`). Without an explicit format the file's extension decides.

Chat exports (`wechat`, `chatlog`, `telegram`, `whatsapp`: see exports/) and dataset formats (`alpaca`,
`sharegpt`, `prompt_completion`: see dataset_formats.py) become one record per conversation, with `messages`; for
those (and `chat_history`) a template is optional. What they leave out or scrub is counted in a Cleaning tally.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.datasets.chat_history import ChatHistoryError, ChatHistoryOptions, conversations
from runner.datasets.cleaning import Cleaning
from runner.datasets.jsonparse import JsonLineError, decode, decode_at, parse_line, utf8_error

EXPORT_FORMATS = ("wechat", "chatlog", "telegram", "whatsapp")
DATASET_FORMATS = ("alpaca", "sharegpt", "prompt_completion")
# formats whose records are conversations (`messages`): a template is optional for them
CONVERSATION_FORMATS = ("chat_history", *EXPORT_FORMATS, *DATASET_FORMATS)
FORMATS = ("csv", "jsonl", "json", *CONVERSATION_FORMATS)


class SourceError(ValueError):
    """A source record that cannot be read; carries the line it is on."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts in the source file (1-based)
    fields: Mapping[str, Any]


def source_format(path: str, declared: str | None) -> str:
    if declared:
        if declared not in FORMATS:
            raise SourceError(f"unknown source format {declared!r} (expected one of {', '.join(FORMATS)})", None)
        return declared
    suffix = Path(path).suffix.lower()
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".json": "json"}.get(suffix)
    if fmt is None:
        raise SourceError(f"cannot tell the format of {path} from its extension; set `format:`", None)
    return fmt


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, message = utf8_error(data, e.start)
        raise SourceError(message, line) from None
    return text.removeprefix("\ufeff")


def decoded_lines(path: Path) -> Iterator[str]:
    """The file's lines as text, streamed (line endings kept, a leading byte-order mark dropped); invalid UTF-8
    fails naming its line."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = decode(raw)
            except JsonLineError as e:
                raise SourceError(e.message, lineno) from None
            yield line.removeprefix("\ufeff") if lineno == 1 else line


def csv_records(text: str | Iterable[str]) -> Iterator[Record]:
    """One record per CSV row (header row gives the field names), with the line each row starts on."""
    lines = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise SourceError(f"unreadable CSV: {e}", 1) from e
    header = [h.strip() for h in header]
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise SourceError(f"unreadable CSV: {e}", start) from e
        if row and any(cell.strip() for cell in row):
            if len(row) != len(header):
                raise SourceError(f"row has {len(row)} fields, the header has {len(header)}", start)
            yield Record(start, dict(zip(header, row, strict=True)))
        start = reader.line_num + 1


def jsonl_records(text: str | Iterable[str]) -> Iterator[Record]:
    lines = text.splitlines() if isinstance(text, str) else text
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = parse_line(line)
        except JsonLineError as e:
            raise SourceError(e.message, lineno) from None
        if not isinstance(obj, dict):
            raise SourceError(f"a record must be a JSON object, found {type(obj).__name__}", lineno)
        yield Record(lineno, obj)


def json_array_records(text: str) -> Iterator[Record]:
    """Elements of a top-level JSON array, each with the line its value starts on."""
    ws = " \t\r\n"
    i = 0
    n = len(text)

    def skip(j: int) -> int:
        while j < n and text[j] in ws:
            j += 1
        return j

    def line_at(j: int) -> int:
        return text.count("\n", 0, j) + 1

    i = skip(i)
    if i >= n or text[i] != "[":
        raise SourceError("a JSON source must be an array of objects", line_at(i))
    i = skip(i + 1)
    if i < n and text[i] == "]":
        return
    while True:
        try:
            obj, end = decode_at(text, i)
        except JsonLineError as e:
            raise SourceError(e.message, e.line or line_at(i)) from None
        if not isinstance(obj, dict):
            raise SourceError(f"a record must be a JSON object, found {type(obj).__name__}", line_at(i))
        yield Record(line_at(i), obj)
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            return
        raise SourceError("expected ',' or ']' in the JSON array", line_at(i))


def read_records(
    data: bytes | Path, fmt: str, options: Mapping[str, Any], cleaning: Cleaning | None = None
) -> Iterator[Record]:
    """The records of a source given as bytes or as a file (streamed line by line, except a JSON array); what a
    conversation format leaves out or scrubs is counted in `cleaning`."""
    if fmt in EXPORT_FORMATS:
        from runner.datasets.exports import read_export  # the readers use this module's helpers

        yield from read_export(data, fmt, options, cleaning if cleaning is not None else Cleaning())
        return
    if fmt in DATASET_FORMATS:
        from runner.datasets.dataset_formats import read_dataset

        yield from read_dataset(data, fmt, options, cleaning if cleaning is not None else Cleaning())
        return
    if isinstance(data, Path):
        text: str | Iterable[str] = _text(data.read_bytes()) if fmt == "json" else decoded_lines(data)
    else:
        text = _text(data)
    if fmt == "csv":
        yield from csv_records(text)
    elif fmt == "jsonl":
        yield from jsonl_records(text)
    elif fmt == "json":
        assert isinstance(text, str)
        yield from json_array_records(text)
    elif fmt == "chat_history":
        try:
            opts = ChatHistoryOptions.from_mapping(options)
        except ValueError as e:
            raise SourceError(str(e), None) from e
        try:
            for conv in conversations(csv_records(text), opts, cleaning):
                yield Record(conv.line, conv.as_fields())
        except ChatHistoryError as e:
            hint = ""
            if "has no column" in str(e):  # perhaps an export of another format
                from runner.datasets.exports.sniff import hint_for

                hint = hint_for("chat_history", data)
            raise SourceError(f"{e}{hint}", e.line) from e
    else:
        raise SourceError(f"unknown source format {fmt!r}", None)
