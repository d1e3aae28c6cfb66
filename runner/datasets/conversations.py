"""Messages of a chat export → conversations in which my messages are the assistant's turns. One rule for every
chat export ftrun reads (chat_history, wechat, chatlog, telegram, whatsapp).

Each message belongs to a stream (one chat: a WeChat TalkerId, a Telegram chat; "" when the file holds one chat).
Within a stream, messages are grouped into sessions wherever the gap between two messages exceeds
`session_gap_minutes`; consecutive messages of one sender are merged (joined by a newline); my messages become
assistant turns and everyone else's user turns. In a session with more than one other sender (a group chat), the
others' consecutive messages make one user turn whose lines say who spoke (`Bob: ...`). Sessions in which I never
answer are dropped, and so are the messages after my last answer in a session (there is nothing to learn from them).

Before grouping, each message's text is cleaned: media placeholders are taken out (a message of nothing but media is
left out), messages longer than `max_message_chars` are left out, and so are duplicates (in an export with message
ids: the same id, sender and text again in a session, as when two exports are merged); personal data is scrubbed
(see scrub.py). Everything left out is counted in a Cleaning tally.

Streams are read in one pass: each holds at most its open session, and the sessions of other streams close once
the export's time has moved past their gap, so memory stays flat however large the file.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runner.datasets.cleaning import Cleaning, strip_media
from runner.datasets.scrub import KINDS, Scrubber, parse_kinds

DEFAULT_MAX_MESSAGE_CHARS = 4000
CLOSE_EVERY = 4096  # messages between two looks for idle sessions of other streams


class ConversationError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Message:
    line: int  # where the message starts in the export (1-based)
    stream: str  # the chat it belongs to ("" for a file holding one chat)
    when: datetime  # naive: local time or UTC, as the export writes it, the same for all messages of a stream
    sender: str  # a display name or an id
    is_me: bool
    text: str
    uid: str | None = None  # the export's message id, where it has one: the same id and text twice is a duplicate


@dataclass(frozen=True)
class GroupingOptions:
    """The options every chat export shares (the `source` mapping's keys)."""

    session_gap_minutes: float = 30.0
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    scrub: frozenset[str] = frozenset(KINDS)

    KEYS = frozenset({"session_gap_minutes", "max_message_chars", "scrub"})

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> GroupingOptions:
        gap = options.get("session_gap_minutes", 30)
        if isinstance(gap, bool) or not isinstance(gap, int | float) or gap <= 0:
            raise ValueError("`session_gap_minutes` must be a positive number")
        longest = options.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)
        if isinstance(longest, bool) or not isinstance(longest, int) or longest <= 0:
            raise ValueError("`max_message_chars` must be a positive whole number")
        return cls(float(gap), longest, parse_kinds(options.get("scrub", True)))


def check_keys(fmt: str, options: Mapping[str, Any], known: Iterable[str]) -> None:
    """Unknown option names of a source format fail, naming the close ones."""
    allowed = sorted(set(known))
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(allowed)}"
            raise ValueError(f"unknown {fmt} option {key!r} ({hint})")


@dataclass(frozen=True)
class Conversation:
    line: int  # the line of the session's first message
    session: int  # 1-based, in the order conversations come out
    start: datetime
    end: datetime
    messages: tuple[tuple[str, str], ...]  # (role, content)
    participants: tuple[str, ...]  # the other senders, in order of appearance
    chat: str = ""  # the stream

    def as_fields(self) -> dict[str, Any]:
        return {
            "messages": [{"role": role, "content": content} for role, content in self.messages],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "participants": list(self.participants),
            "session": self.session,
            "chat": self.chat,
        }


@dataclass
class _Session:
    line: int
    stream: str
    start: datetime
    end: datetime
    turns: list[tuple[str, bool, list[str]]] = field(default_factory=list)  # (sender, is me, texts)
    seen: set[int] = field(default_factory=set)  # hashes of (message id, sender, text), for duplicates


class _Grouper:
    def __init__(self, opts: GroupingOptions, cleaning: Cleaning) -> None:
        self.gap = timedelta(minutes=opts.session_gap_minutes)
        self.opts = opts
        self.cleaning = cleaning
        self.scrub = Scrubber(opts.scrub, cleaning.scrubbed)
        self.open: dict[str, _Session] = {}
        self.closed: list[Conversation] = []
        self.number = 0
        self.added = 0

    def add(self, m: Message) -> None:
        """Take one message; the conversations it closes are appended to `self.closed`."""
        text, had_media = strip_media(m.text)
        if not text:
            self.cleaning.skip("media" if had_media else "empty")
            return
        if len(text) > self.opts.max_message_chars:
            self.cleaning.skip("too_long")
            return
        self.added += 1
        if self.added % CLOSE_EVERY == 0 and len(self.open) > 1:
            self._close_idle(m)
        current = self.open.get(m.stream)
        if current is not None and m.when < current.end:
            raise ConversationError(f"messages are not in time order ({m.when} is before {current.end})", m.line)
        if current is None or m.when - current.end > self.gap:
            if current is not None:
                self._close(current)
            current = self.open[m.stream] = _Session(m.line, m.stream, m.when, m.when)
        if m.uid is not None:
            key = hash((m.uid, m.sender, text))
            if key in current.seen:
                self.cleaning.skip("duplicate")
                return
            current.seen.add(key)
        current.end = m.when
        text = self.scrub(text)
        turns = current.turns
        if turns and turns[-1][0] == m.sender and turns[-1][1] == m.is_me:
            turns[-1][2].append(text)
        else:
            turns.append((m.sender, m.is_me, [text]))

    def _close_idle(self, m: Message) -> None:
        """Close the sessions of other streams that ended more than a gap before this message."""
        idle = [s for s, x in self.open.items() if s != m.stream and x.end + self.gap < m.when]
        for stream in idle:
            self._close(self.open.pop(stream))

    def finish(self) -> None:
        for session in sorted(self.open.values(), key=lambda x: x.line):
            self._close(session)
        self.open.clear()

    def _close(self, session: _Session) -> None:
        turns = session.turns
        last_answer = max((i for i, t in enumerate(turns) if t[1]), default=-1)
        if last_answer < 0 or not any(not t[1] for t in turns[:last_answer]):
            self.cleaning.skip("no_reply", sum(len(t[2]) for t in turns))
            return
        self.cleaning.skip("after_last_reply", sum(len(t[2]) for t in turns[last_answer + 1 :]))
        kept = turns[: last_answer + 1]
        others = tuple(dict.fromkeys(s for s, me, _ in kept if not me))
        group = len(others) > 1
        messages: list[tuple[str, str]] = []
        for sender, me, texts in kept:
            role = "assistant" if me else "user"
            content = "\n".join(f"{sender}: {t}" for t in texts) if group and not me else "\n".join(texts)
            if messages and messages[-1][0] == role:  # two senders in a row in a group chat: one user turn
                messages[-1] = (role, messages[-1][1] + "\n" + content)
            else:
                messages.append((role, content))
        self.number += 1
        self.closed.append(
            Conversation(session.line, self.number, session.start, session.end, tuple(messages), others, session.stream)
        )


def conversations(messages: Iterable[Message], opts: GroupingOptions, cleaning: Cleaning) -> Iterator[Conversation]:
    """The conversations of an export's messages (each stream in time order), counting what is left out."""
    grouper = _Grouper(opts, cleaning)
    closed = grouper.closed
    for m in messages:
        grouper.add(m)
        if closed:
            yield from closed
            closed.clear()
    grouper.finish()
    yield from closed


def example_of(fields: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    """The training example a conversation record makes without a template: its messages, after the spec's
    `vars.system` as the system message unless the conversation has one of its own."""
    messages = list(fields["messages"])
    system = variables.get("system")
    if system is not None and not (messages and messages[0].get("role") in ("system", "developer")):
        messages.insert(0, {"role": "system", "content": str(system)})
    return json.dumps({"messages": messages}, ensure_ascii=False)
