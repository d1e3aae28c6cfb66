"""The exports of the chatlog tool (WeChat chat history as CSV or JSON).

- CSV: `Time,SenderName,Sender,TalkerName,Talker,Content`. It does not mark my messages: `me` names me (my `Sender`
  id or my `SenderName`).
- JSON: an array (or JSON Lines) of objects with `time`, `talker` (and `talkerName`), `sender` (and `senderName`),
  `isSelf`, `type` and `content`. Only `type` 1 (text) is read; `isSelf` marks my messages (or `me`, if given).

Times are ISO dates and times (an offset, if any, is dropped: the wall-clock time is kept). Each `Talker` is a
stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import GroupingOptions, Message, check_keys
from runner.datasets.exports.lines import json_events, text_lines
from runner.datasets.exports.sniff import CHATLOG_HEADER, FormatMismatch, header_of
from runner.datasets.sources import SourceError, csv_records

CSV_COLUMNS = tuple(CHATLOG_HEADER.split(","))


class ChatlogOptions:
    KEYS = frozenset({"me", *GroupingOptions.KEYS})

    def __init__(self, options: Mapping[str, Any]) -> None:
        check_keys("chatlog", options, self.KEYS)
        me = options.get("me")
        if me is not None and (not isinstance(me, str) or not me.strip()):
            raise ValueError("`me` must be your sender id or name")
        self.me = me.strip() if isinstance(me, str) else None
        self.grouping = GroupingOptions.from_mapping(options)


def _when(value: Any, line: int) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value).replace(tzinfo=None)
    if not isinstance(value, str) or not value.strip():
        raise SourceError("message has no time", line)
    text = value.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as e:
        raise SourceError(f"time {value!r} is not an ISO date and time", line) from e


def _first_char(data: bytes | Path) -> str:
    for line in text_lines(data):
        if line.strip():
            return line.lstrip()[0]
    return ""


def messages(data: bytes | Path, opts: ChatlogOptions, cleaning: Cleaning) -> Iterator[Message]:
    first = _first_char(data)
    if first in ("[", "{"):
        yield from _json_messages(data, opts, cleaning, array=first == "[")
    else:
        yield from _csv_messages(data, opts)


def _csv_messages(data: bytes | Path, opts: ChatlogOptions) -> Iterator[Message]:
    if opts.me is None:
        raise SourceError("chatlog's CSV does not mark your messages: set `me` to your Sender id or SenderName", None)
    lines = text_lines(data)
    header, first = header_of(lines)
    if tuple(header[: len(CSV_COLUMNS)]) != CSV_COLUMNS:
        raise FormatMismatch("chatlog", f"the header is not chatlog's CSV ({CHATLOG_HEADER}) nor JSON", 1)

    def rows() -> Iterator[str]:
        yield first
        yield from lines

    for record in csv_records(rows()):
        f = record.fields
        sender = f["SenderName"].strip() or f["Sender"].strip()
        is_me = opts.me in (f["Sender"].strip(), f["SenderName"].strip())
        yield Message(record.line, f["Talker"].strip(), _when(f["Time"], record.line), sender, is_me, f["Content"])


def _json_objects(data: bytes | Path, array: bool) -> Iterator[tuple[int, Any]]:
    if array:
        for _, _, start, value in json_events(data, frozenset({"item"})):
            yield start, value
        return
    for lineno, text in enumerate(text_lines(data), start=1):
        if text.strip():
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as e:
                raise SourceError(f"not valid JSON: {e.msg} at column {e.colno}", lineno) from e


def _json_messages(data: bytes | Path, opts: ChatlogOptions, cleaning: Cleaning, array: bool) -> Iterator[Message]:
    for line, obj in _json_objects(data, array):
        if not isinstance(obj, dict) or "talker" not in obj or "content" not in obj:
            raise FormatMismatch("chatlog", "a chatlog message is an object with `time`, `talker`, `content`", line)
        if str(obj.get("type", 1)) != "1":
            cleaning.skip("wrong_type")
            continue
        sender_id = str(obj.get("sender") or "")
        sender = str(obj.get("senderName") or sender_id)
        is_me = bool(obj.get("isSelf")) or (opts.me is not None and opts.me in (sender_id, sender))
        content = obj.get("content")
        text = content if isinstance(content, str) else ""
        uid = str(obj["seq"]) if obj.get("seq") is not None else None
        yield Message(line, str(obj["talker"]), _when(obj.get("time"), line), sender, is_me, text, uid)
