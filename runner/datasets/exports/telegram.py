"""Telegram Desktop's JSON export (`result.json`), one chat or a whole account, read incrementally.

A one-chat export is `{"name", "type", "id", "messages": [...]}`; a whole-account export keeps its chats under
`chats.list[]`, each with its own `messages`. A message has `type` ("message", or "service" for joins, pins and
calls: not text), `date` (local time, ISO), `from` (a display name, null for a deleted account), `from_id`
("user123...") and `text`: a string, or a list of strings and entity objects (`{"type": "bold", "text": ...}`,
links, mentions...), joined back into plain text. A message with no text but a photo, file or sticker is media.
`me` is my display name or my `from_id` (with or without its "user" prefix). Each chat is its own stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import GroupingOptions, Message, check_keys
from runner.datasets.exports.lines import json_events
from runner.datasets.exports.sniff import FormatMismatch
from runner.datasets.sources import SourceError

ONE_CHAT = "messages.item"
ACCOUNT = "chats.list.item.messages.item"
_MEDIA_KEYS = ("photo", "file", "media_type", "sticker_emoji", "poll", "location_information", "contact_information")


class TelegramOptions:
    KEYS = frozenset({"me", *GroupingOptions.KEYS})

    def __init__(self, options: Mapping[str, Any]) -> None:
        check_keys("telegram", options, self.KEYS)
        me = options.get("me")
        if isinstance(me, int) and not isinstance(me, bool):
            me = str(me)
        if not isinstance(me, str) or not me.strip():
            raise ValueError("telegram needs `me`: your display name or your from_id (e.g. user123456789)")
        self.me = me.strip()
        self.grouping = GroupingOptions.from_mapping(options)

    def is_me(self, sender: str, from_id: str) -> bool:
        return self.me in (sender, from_id, from_id.removeprefix("user"))


def plain_text(text: Any) -> str:
    """A message's `text` as plain text: a string, or a list of strings and entity objects."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        parts = []
        for part in text:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _when(value: Any, line: int) -> datetime:
    if not isinstance(value, str):
        raise SourceError("a Telegram message has no `date`", line)
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise SourceError(f"date {value!r} is not an ISO date and time", line) from e
    return when.replace(tzinfo=None)


def messages(data: bytes | Path, opts: TelegramOptions, cleaning: Cleaning) -> Iterator[Message]:
    chat = ""
    chat_id = ""
    saw_messages = False
    chat_values = frozenset({"name", "id", "chats.list.item.name", "chats.list.item.id"})
    for kind, prefix, line, value in json_events(data, frozenset({ONE_CHAT, ACCOUNT}), chat_values):
        if kind == "array":
            saw_messages = True
            continue
        if kind == "value":
            if prefix.endswith("name"):
                chat = str(value) if value is not None else ""
            else:
                chat_id = str(value)
            continue
        if not isinstance(value, dict):
            raise SourceError("a Telegram message must be an object", line)
        if value.get("type") != "message":
            cleaning.skip("wrong_type")
            continue
        from_id = str(value.get("from_id") or "")
        sender = value.get("from")
        sender = str(sender) if sender is not None else from_id
        text = plain_text(value.get("text"))
        if not text.strip() and any(k in value for k in _MEDIA_KEYS):
            cleaning.skip("media")
            continue
        stream = f"{chat} ({chat_id})" if chat and chat_id else chat or chat_id
        uid = str(value["id"]) if "id" in value else None
        yield Message(line, stream, _when(value.get("date"), line), sender, opts.is_me(sender, from_id), text, uid)
    if not saw_messages:
        raise FormatMismatch("telegram", "the file has no `messages` list (nor `chats.list[].messages`)", 1)
