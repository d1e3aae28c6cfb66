"""The CSV that WeChatMsg / MemoTrace export from a WeChat database.

Header: `localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime` and, in newer exports,
`Remark,NickName,Sender`. Only text messages (`Type` 1) are read; images, voice, video and stickers (3, 34, 43, 47)
are counted as media, calls, links, system notices and the rest as not text. `IsSender` 1 marks my messages. The time
is `StrTime` (the local time the chat showed) or, where that is empty or unreadable, `CreateTime` (Unix seconds, as
UTC). Each `TalkerId` (a contact, or a group ending in `@chatroom`) is its own stream. In a group, the sender is the
`Sender` column, or (older exports) the `wxid:` line that starts a received message's `StrContent`, shown by its
`NickName` where the row has one; in a one-to-one chat it is the contact's `Remark`, `NickName` or `TalkerId`, as
first seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import GroupingOptions, Message, check_keys
from runner.datasets.exports.lines import text_lines
from runner.datasets.exports.sniff import FormatMismatch, header_of
from runner.datasets.sources import SourceError, csv_records

HEADER = ("localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime")
OPTIONAL = ("Remark", "NickName", "Sender")
MEDIA_TYPES = frozenset({"3", "34", "43", "47"})  # image, voice, video, sticker
_GROUP_SENDER = re.compile(r"([A-Za-z0-9_@.-]{3,64}):\n")


class WechatOptions:
    KEYS = frozenset({"me", *GroupingOptions.KEYS})

    def __init__(self, options: Mapping[str, Any]) -> None:
        check_keys("wechat", options, self.KEYS)
        me = options.get("me", "me")
        if not isinstance(me, str) or not me.strip():
            raise ValueError("`me` must be a name (how my messages are labelled; IsSender decides which are mine)")
        self.me = me.strip()
        self.grouping = GroupingOptions.from_mapping(options)


def _when(create: str, shown: str, line: int) -> datetime:
    try:
        return datetime.fromisoformat(shown.strip())  # the local time the chat showed
    except ValueError:
        pass
    try:
        return datetime.fromtimestamp(int(float(create.strip())), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        raise SourceError(f"message has no readable time (CreateTime {create!r}, StrTime {shown!r})", line) from None


def messages(data: bytes | Path, opts: WechatOptions, cleaning: Cleaning) -> Iterator[Message]:
    lines = text_lines(data)
    header, first = header_of(lines)
    if tuple(header[: len(HEADER)]) != HEADER:
        raise FormatMismatch("wechat", f"the header is not WeChatMsg/MemoTrace's ({','.join(HEADER)}[,...])", 1)
    names: dict[str, str] = {}  # talker → the contact's name, as first seen (so a chat keeps one name)
    for record in csv_records(_chain(first, lines)):
        f = record.fields
        kind = f["Type"].strip()
        if kind != "1":
            cleaning.skip("media" if kind in MEDIA_TYPES else "wrong_type")
            continue
        talker = f["TalkerId"].strip()
        is_me = f["IsSender"].strip() == "1"
        text = f["StrContent"]
        if is_me:
            sender = opts.me
        elif talker.endswith("@chatroom"):
            member = (f.get("Sender") or "").strip()
            if not member and (m := _GROUP_SENDER.match(text)):
                member, text = m.group(1), text[m.end() :]
            key = f"{talker}\0{member}"
            sender = names.get(key) or ""
            if not sender:
                sender = names[key] = (f.get("NickName") or "").strip() or member or "?"
        else:
            sender = names.get(talker) or ""
            if not sender:
                sender = (f.get("Remark") or "").strip() or (f.get("NickName") or "").strip() or talker
                names[talker] = sender
        when = _when(f["CreateTime"], f["StrTime"], record.line)
        yield Message(record.line, talker, when, sender, is_me, text, f["localId"].strip() or None)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
