"""Source records (CSV, JSONL, JSON array) carry the line they start on; chat exports become conversations."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.datasets import DataSpec, prepare, render_bytes
from runner.datasets.chat_history import ChatHistoryOptions, conversations
from runner.datasets.sources import Record, SourceError, csv_records, json_array_records, read_records

# a lone CR is a line break to the csv module but not to an editor; quoted newlines are kept
cells = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"), max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=8))
def test_csv_rows_round_trip_with_start_lines(rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["question", "answer"])
    starts = []
    for row in rows:
        starts.append(buf.getvalue().count("\n") + 1)
        writer.writerow(row)
    text = buf.getvalue()
    kept = [(s, r) for s, r in zip(starts, rows, strict=True) if any(c.strip() for c in r)]
    got = list(csv_records(text))
    assert [(r.line, (r.fields["question"], r.fields["answer"])) for r in got] == kept


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from("abc"), st.integers() | cells, max_size=3), max_size=6), st.booleans())
def test_json_array_elements_know_their_line(objs: list[dict[str, Any]], one_per_line: bool) -> None:
    if one_per_line:  # element i on line i + 2
        text = "[\n" + ",\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n]\n"
        lines = [i + 2 for i in range(len(objs))]
    else:
        text = json.dumps(objs, ensure_ascii=False)
        lines = [1] * len(objs)
    got = list(json_array_records(text))
    assert [r.fields for r in got] == objs
    assert [r.line for r in got] == lines


def test_files_stream_with_the_same_records_and_lines(tmp_path: Path) -> None:
    data = '\ufeffquestion,answer\r\n"multi\r\nline",a\r\n\r\nq2,"b, c"\r\n'.encode()
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    from_file = list(read_records(path, "csv", {}))
    assert from_file == list(read_records(data, "csv", {}))
    assert [(r.line, r.fields["question"]) for r in from_file] == [(2, "multi\r\nline"), (5, "q2")]
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(SourceError) as info:
        list(read_records(path, "jsonl", {}))
    assert info.value.line == 2


def test_bad_sources_name_the_line() -> None:
    with pytest.raises(SourceError) as info:
        list(read_records(b'{"a": 1}\n\n{"a": \n', "jsonl", {}))
    assert info.value.line == 3
    with pytest.raises(SourceError) as info:
        list(read_records(b"a,b\n1,2\n3\n", "csv", {}))
    assert info.value.line == 3
    with pytest.raises(SourceError) as info:
        list(read_records(b"q\nok\n\xff\n", "csv", {}))
    assert info.value.line == 3


def rows(*items: tuple[str, str, str]) -> list[Record]:
    return [Record(i + 2, {"time": t, "sender": s, "text": x}) for i, (t, s, x) in enumerate(items)]


def test_chat_history_sessions_merging_and_roles() -> None:
    export = rows(
        ("2026-01-01 09:00", "Bob", "hi"),
        ("2026-01-01 09:01", "Bob", "you there?"),
        ("2026-01-01 09:02", "me", "yes"),
        ("2026-01-01 09:03", "me", "what's up"),
        ("2026-01-01 09:04", "Bob", "nothing"),  # unanswered: dropped
        ("2026-01-01 12:00", "me", "lunch?"),  # new session (gap), opened by me
        ("2026-01-01 12:05", "Bob", "sure"),
        ("2026-01-01 12:06", "me", "ok"),
        ("2026-01-02 08:00", "Bob", "no answer today"),  # never answered: no conversation
    )
    convs = list(conversations(export, ChatHistoryOptions(me="me", session_gap_minutes=30)))
    assert [c.line for c in convs] == [2, 7]
    assert convs[0].messages == (("user", "hi\nyou there?"), ("assistant", "yes\nwhat's up"))
    assert convs[1].messages == (("assistant", "lunch?"), ("user", "sure"), ("assistant", "ok"))
    assert convs[1].participants == ("Bob",)


def test_chat_history_options_and_errors() -> None:
    with pytest.raises(ValueError, match="needs `me`"):
        ChatHistoryOptions.from_mapping({})
    with pytest.raises(ValueError, match="unknown chat_history option"):
        ChatHistoryOptions.from_mapping({"me": "x", "gap": 3})
    with pytest.raises(SourceError) as info:
        list(read_records(b"time,sender,text\nyesterday,a,b\n", "chat_history", {"me": "a"}))
    assert info.value.line == 2


def test_shipped_chat_export_trains_as_conversations(workspace: Path) -> None:
    spec = DataSpec(
        template="templates/chat_history_to_chat.jsonl.j2",
        source={"path": "data/chat_export.csv", "format": "chat_history", "me": "Alice", "session_gap_minutes": 30},
        vars={"system": "You are Alice."},
    )
    prepared = prepare(
        spec, None, root=workspace, cache_dir=workspace / ".c", experiment="me", model="local/tiny", method="supervised"
    )
    # nothing wrong; what was left out is counted (info)
    assert {(str(d.severity), d.check) for d in prepared.diagnostics} == {
        ("info", "skipped_no_reply"),
        ("info", "skipped_after_last_reply"),
    }
    assert prepared.training is not None and prepared.training.examples >= 10
    examples = [json.loads(x) for x in render_bytes(spec, workspace).splitlines()]
    for ex in examples:
        roles = [m["role"] for m in ex["messages"]]
        assert roles[0] == "system" and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles[1:], roles[2:], strict=False))  # consecutive turns were merged
    assert any("中" in m["content"] or "会议" in m["content"] for ex in examples for m in ex["messages"])
