"""Turn a chat-history export into conversations: "train a model to answer like me".

The export is a CSV with the columns `time`, `sender` and `text` (names configurable), one message per row, in time
order. Messages are grouped into sessions wherever the gap between two messages exceeds `session_gap_minutes`;
consecutive messages of one sender are merged (joined by a newline); the messages of `me` become assistant turns and
everyone else's user turns. Sessions in which `me` never answers are dropped, and so are the messages after `me`'s
last answer in a session (there is nothing to learn from them).

Each conversation is one record for the template, with the fields `messages` (a list of {"role", "content"}),
`start` and `end` (ISO times), `participants` (the other senders) and `session` (1-based number).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class ChatHistoryError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _Row(Protocol):
    @property
    def line(self) -> int: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ChatHistoryOptions:
    me: str
    session_gap_minutes: float = 30.0
    time_column: str = "time"
    sender_column: str = "sender"
    text_column: str = "text"

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> ChatHistoryOptions:
        known = {"me", "session_gap_minutes", "time_column", "sender_column", "text_column"}
        unknown = sorted(set(options) - known)
        if unknown:
            listed = ", ".join(sorted(known))
            raise ValueError(f"unknown chat_history option(s): {', '.join(unknown)} (known: {listed})")
        me = options.get("me")
        if not isinstance(me, str) or not me:
            raise ValueError("chat_history needs `me`: the sender whose messages become the assistant's answers")
        gap = options.get("session_gap_minutes", 30)
        if isinstance(gap, bool) or not isinstance(gap, int | float) or gap <= 0:
            raise ValueError("`session_gap_minutes` must be a positive number")
        cols = {k: options.get(k, getattr(cls, k)) for k in ("time_column", "sender_column", "text_column")}
        if not all(isinstance(v, str) and v for v in cols.values()):
            raise ValueError("column names must be non-empty strings")
        return cls(me=me, session_gap_minutes=float(gap), **cols)


@dataclass(frozen=True)
class Conversation:
    line: int  # the CSV line of the session's first message
    session: int
    start: datetime
    end: datetime
    messages: tuple[tuple[str, str], ...]  # (role, content)
    participants: tuple[str, ...]

    def as_fields(self) -> dict[str, Any]:
        return {
            "messages": [{"role": role, "content": content} for role, content in self.messages],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "participants": list(self.participants),
            "session": self.session,
        }


@dataclass
class _Session:
    line: int
    start: datetime
    end: datetime
    turns: list[tuple[str, list[str]]]  # (sender, texts)


def _parse_time(value: Any, line: int) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ChatHistoryError("message has no time", line)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as e:
        raise ChatHistoryError(f"time {value!r} is not an ISO 8601 date and time", line) from e
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo is not None else when


def _sessions(rows: Iterable[_Row], opts: ChatHistoryOptions) -> Iterator[_Session]:
    gap = timedelta(minutes=opts.session_gap_minutes)
    current: _Session | None = None
    for row in rows:
        fields = row.fields
        for col in (opts.time_column, opts.sender_column, opts.text_column):
            if col not in fields:
                raise ChatHistoryError(f"the chat history has no column {col!r}", row.line)
        when = _parse_time(fields[opts.time_column], row.line)
        sender = str(fields[opts.sender_column]).strip()
        text = str(fields[opts.text_column]).strip()
        if not text:
            continue
        if current is not None and when < current.end:
            raise ChatHistoryError(f"messages are not in time order ({when} is before {current.end})", row.line)
        if current is None or when - current.end > gap:
            if current is not None:
                yield current
            current = _Session(row.line, when, when, [])
        current.end = when
        if current.turns and current.turns[-1][0] == sender:
            current.turns[-1][1].append(text)
        else:
            current.turns.append((sender, [text]))
    if current is not None:
        yield current


def conversations(rows: Iterable[_Row], opts: ChatHistoryOptions) -> Iterator[Conversation]:
    """Sessions of the export as conversations in which `me` is the assistant."""
    number = 0
    for session in _sessions(rows, opts):
        turns = [("assistant" if s == opts.me else "user", "\n".join(texts), s) for s, texts in session.turns]
        last_answer = max((i for i, t in enumerate(turns) if t[0] == "assistant"), default=-1)
        if last_answer < 0 or not any(t[0] == "user" for t in turns[:last_answer]):
            continue
        kept = turns[: last_answer + 1]
        number += 1
        others = tuple(dict.fromkeys(s for role, _, s in kept if role == "user"))
        yield Conversation(session.line, number, session.start, session.end, tuple((r, c) for r, c, _ in kept), others)
