"""The grouping every chat export shares: no message vanishes without being counted, and what comes out is a
conversation a model can learn from (a user turn first, my answer last, roles alternating)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import GroupingOptions, Message, conversations

START = datetime(2024, 1, 1, 9, 0)
texts = st.sampled_from(
    ["hi", "在吗", "ok 👍", "[图片]", "", "   ", "<Media omitted>", "x" * 30, "看[表情]这个", "see you"]
)
message = st.tuples(
    st.sampled_from(["wxid_a", "wxid_b", "grp@chatroom"]),  # stream
    st.integers(0, 3000),  # seconds after the stream's previous message
    st.sampled_from(["me", "Ann", "Bo"]),  # sender
    texts,
    st.booleans(),  # repeat it (same id): a duplicate
)


@settings(max_examples=200, deadline=None)
@given(st.lists(message, max_size=60), st.sampled_from([5.0, 30.0]))
def test_every_message_is_kept_or_counted(items: list[tuple[str, int, str, str, bool]], gap: float) -> None:
    clock: dict[str, datetime] = {}
    messages: list[Message] = []
    for i, (stream, seconds, sender, text, repeat) in enumerate(items):
        clock[stream] = when = clock.get(stream, START) + timedelta(seconds=seconds)
        m = Message(i + 2, stream, when, sender, sender == "me", text, uid=str(i))
        messages += [m, m] if repeat else [m]
    cleaning = Cleaning()
    out = list(conversations(messages, GroupingOptions(session_gap_minutes=gap, max_message_chars=20), cleaning))
    kept = sum(m[1].count("\n") + 1 for c in out for m in c.messages)
    assert kept + sum(cleaning.skipped.values()) == len(messages)
    for c in out:
        roles = [r for r, _ in c.messages]
        assert "user" in roles and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
        assert all(content.strip() for _, content in c.messages)
    assert sorted(c.session for c in out) == list(range(1, len(out) + 1))


def test_interleaved_chats_keep_their_own_sessions() -> None:
    # two chats interleaved: each keeps its own sessions, whatever comes between their messages
    rows = [
        ("a", 0, "Ann", "hi"),
        ("b", 10, "Bo", "yo"),
        ("a", 20, "me", "hello"),
        ("b", 25, "me", "hey"),
        ("a", 4000, "Ann", "later"),
        ("a", 4010, "me", "sure"),
    ]
    messages = [
        Message(i + 2, s, START + timedelta(seconds=t), who, who == "me", text)
        for i, (s, t, who, text) in enumerate(rows)
    ]
    out = list(conversations(messages, GroupingOptions(), Cleaning()))
    assert [(c.chat, c.line, c.messages) for c in out] == [
        ("a", 2, (("user", "hi"), ("assistant", "hello"))),
        ("b", 3, (("user", "yo"), ("assistant", "hey"))),
        ("a", 6, (("user", "later"), ("assistant", "sure"))),
    ]
