"""Turn a chat-history export into conversations: "train a model to answer like me".

The export is a CSV with the columns `time`, `sender` and `text` (names configurable), one message per row, in time
order. Messages are grouped into sessions wherever the gap between two messages exceeds `session_gap_minutes`;
consecutive messages of one sender are merged (joined by a newline); the messages of `me` become assistant turns and
everyone else's user turns. Sessions in which `me` never answers are dropped, and so are the messages after `me`'s
last answer in a session (there is nothing to learn from them). The grouping, cleaning and scrubbing are the ones
every chat export shares: see conversations.py.

Each conversation is one record for the template, with the fields `messages` (a list of {"role", "content"}),
`start` and `end` (ISO times), `participants` (the other senders), `session` (1-based number) and `chat`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import Conversation, ConversationError, GroupingOptions, Message
from runner.datasets.conversations import conversations as group_conversations

__all__ = ["ChatHistoryError", "ChatHistoryOptions", "Conversation", "conversations"]


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
    grouping: GroupingOptions = field(default_factory=GroupingOptions)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> ChatHistoryOptions:
        known = {"me", "time_column", "sender_column", "text_column", *GroupingOptions.KEYS}
        unknown = sorted(set(options) - known)
        if unknown:
            listed = ", ".join(sorted(known))
            raise ValueError(f"unknown chat_history option(s): {', '.join(unknown)} (known: {listed})")
        me = options.get("me")
        if not isinstance(me, str) or not me:
            raise ValueError("chat_history needs `me`: the sender whose messages become the assistant's answers")
        grouping = GroupingOptions.from_mapping(options)
        cols = {k: options.get(k, getattr(cls, k)) for k in ("time_column", "sender_column", "text_column")}
        if not all(isinstance(v, str) and v for v in cols.values()):
            raise ValueError("column names must be non-empty strings")
        return cls(me=me, session_gap_minutes=grouping.session_gap_minutes, grouping=grouping, **cols)


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


def _messages(rows: Iterable[_Row], opts: ChatHistoryOptions) -> Iterator[Message]:
    for row in rows:
        fields = row.fields
        for col in (opts.time_column, opts.sender_column, opts.text_column):
            if col not in fields:
                raise ChatHistoryError(f"the chat history has no column {col!r}", row.line)
        when = _parse_time(fields[opts.time_column], row.line)
        sender = str(fields[opts.sender_column]).strip()
        yield Message(row.line, "", when, sender, sender == opts.me, str(fields[opts.text_column]))


def conversations(
    rows: Iterable[_Row], opts: ChatHistoryOptions, cleaning: Cleaning | None = None
) -> Iterator[Conversation]:
    """Sessions of the export as conversations in which `me` is the assistant; what is left out is counted."""
    grouping = opts.grouping
    if grouping.session_gap_minutes != opts.session_gap_minutes:
        grouping = GroupingOptions(opts.session_gap_minutes, grouping.max_message_chars, grouping.scrub)
    try:
        yield from group_conversations(_messages(rows, opts), grouping, cleaning or Cleaning())
    except ConversationError as e:
        raise ChatHistoryError(str(e), e.line) from e
