"""Every check fires on exactly the line that breaks it, and on nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.datasets import CHECKS, DataSpec, prepare
from runner.datasets.checks import check_example
from runner.diagnostics import Severity


def _line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def _msgs(*messages: dict[str, Any], **extra: Any) -> bytes:
    return _line({"messages": list(messages), **extra})


def chat(i: int) -> dict[str, Any]:
    return _example(i)


def _example(i: int) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]
    }


U = {"role": "user", "content": "q"}
A = {"role": "assistant", "content": "a"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}

# (expected check or None, line bytes); line numbers are positions in this list + 1
SEEDED: list[tuple[str | None, bytes]] = [
    ("byte_order_mark", b"\xef\xbb\xbf" + _line(chat(1))),
    (None, _line(chat(2))),
    ("data_type", b"[1, 2]\n"),
    ("missing_messages_list", _line({"messages": []})),
    ("message_missing_key", _msgs({"role": "user"}, A)),
    ("message_unrecognized_key", _msgs({**U, "foo": 1}, A)),
    ("unrecognized_role", _msgs({"role": "robot", "content": "q"}, A)),
    ("missing_content", _msgs({"role": "user", "content": None}, A)),
    ("example_missing_assistant_message", _msgs(U)),
    ("invalid_json", b'{"messages": [\n'),
    ("invalid_utf8", b'{"messages": "\xff"}\n'),
    ("blank_line", b"\n"),
    ("crlf_line_endings", _line(chat(3)).rstrip(b"\n") + b"\r\n"),
    ("format_mismatch", _line({"input": {"messages": [U]}, "preferred_output": [A], "non_preferred_output": [A]})),
    ("unrecognized_key", _msgs(U, A, extra=1)),
    ("invalid_tools", _msgs(U, A, tools="lookup")),
    ("invalid_tool_calls", _msgs(U, {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]})),
    (
        "tool_message_missing_id",
        _msgs(U, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "content": "{}"}, A),
    ),
    ("invalid_weight", _msgs(U, {**A, "weight": 2})),
    ("weight_not_on_assistant", _msgs({**U, "weight": 1}, A)),
    ("empty_content", _msgs({"role": "user", "content": ""}, A)),
    ("over_context_limit", _msgs({"role": "user", "content": " word" * 5000}, A)),
    ("duplicate_example", _line(chat(2))),
]


def test_seeded_file_yields_exactly_one_finding_per_error_class(tmp_path: Path) -> None:
    data = tmp_path / "seeded.jsonl"
    data.write_bytes(b"".join(raw for _, raw in SEEDED))
    prepared = prepare(
        DataSpec(path="seeded.jsonl"),
        None,
        root=tmp_path,
        cache_dir=tmp_path / ".cache",
        experiment="seeded",
        model="gpt-3.5-turbo-0613",  # 4,096-token context
        method="supervised",
    )
    found = sorted((d.line or 0, d.check or "") for d in prepared.diagnostics)
    expected = sorted((i, check) for i, (check, _) in enumerate(SEEDED, start=1) if check)
    assert found == expected
    for d in prepared.diagnostics:
        assert d.file == "seeded.jsonl" and d.experiment == "seeded" and d.message
        assert d.severity is (Severity.ERROR if CHECKS[d.check or ""] == "error" else Severity.WARNING)
    assert prepared.training is not None
    counts = dict(prepared.training.check_counts)
    assert counts == {check: 1 for check, _ in SEEDED if check}
    assert prepared.training.stats is not None and prepared.training.stats.over_limit == 1


def test_every_named_check_is_seeded_or_tested_elsewhere() -> None:
    seeded = {check for check, _ in SEEDED if check}
    elsewhere = {"invalid_preference_output", "too_few_examples"}
    assert set(CHECKS) == seeded | elsewhere


def test_dpo_checks(tmp_path: Path, jsonl: Callable[..., bytes]) -> None:
    good = [
        {
            "input": {"messages": [{"role": "user", "content": f"Say hi {i}"}]},
            "preferred_output": [{"role": "assistant", "content": "Hi!"}],
            "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
        }
        for i in range(10)
    ]
    two_outputs = {**good[0], "preferred_output": [A, A]}
    (tmp_path / "pref.jsonl").write_bytes(jsonl(*good, two_outputs, chat(1)))
    prepared = prepare(
        DataSpec(path="pref.jsonl"),
        None,
        root=tmp_path,
        cache_dir=tmp_path / ".cache",
        experiment="p",
        model="gpt-4.1-2025-04-14",
        method="dpo",
    )
    assert sorted((d.line, d.check) for d in prepared.diagnostics) == [
        (11, "invalid_preference_output"),
        (12, "format_mismatch"),
    ]


def test_reinforcement_allows_grader_keys_and_no_assistant() -> None:
    example = {"messages": [{"role": "developer", "content": "Solve."}, U], "reference_answer": "42"}
    assert check_example(example, "reinforcement") == []
    checks = [c for c, _ in check_example(example, "supervised")]
    assert checks == ["unrecognized_key", "example_missing_assistant_message"]


def test_tool_calls_with_no_content_are_valid() -> None:
    example = {
        "messages": [
            U,
            {"role": "assistant", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "7"},
            A,
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        "parallel_tool_calls": False,
    }
    assert check_example(example, "supervised") == []


def test_too_few_examples_is_an_error(tmp_path: Path, jsonl: Callable[..., bytes]) -> None:
    (tmp_path / "small.jsonl").write_bytes(jsonl(*(chat(i) for i in range(9))))
    prepared = prepare(
        DataSpec(path="small.jsonl"),
        None,
        root=tmp_path,
        cache_dir=tmp_path / ".cache",
        experiment="s",
        model="gpt-4o-mini-2024-07-18",
        method="supervised",
    )
    assert [(d.check, d.severity) for d in prepared.diagnostics] == [("too_few_examples", Severity.ERROR)]
    assert "9 example" in prepared.diagnostics[0].message


def test_only_the_first_findings_of_a_check_are_listed_and_the_rest_counted(
    tmp_path: Path, jsonl: Callable[..., bytes]
) -> None:
    (tmp_path / "bad.jsonl").write_bytes(
        jsonl(*(chat(i) for i in range(10))) + b"".join(b"[%d]\n" % i for i in range(8))
    )
    prepared = prepare(
        DataSpec(path="bad.jsonl"),
        None,
        root=tmp_path,
        cache_dir=tmp_path / ".cache",
        experiment="b",
        model="gpt-4o-mini",
        method="supervised",
    )
    listed = [d.line for d in prepared.diagnostics if d.check == "data_type" and d.severity is Severity.ERROR]
    assert listed == [11, 12, 13, 14, 15]
    summary = [d for d in prepared.diagnostics if d.severity is Severity.INFO]
    assert len(summary) == 1 and "8 lines" in summary[0].message
    assert prepared.training is not None and dict(prepared.training.check_counts) == {"data_type": 8}


def test_missing_file_names_the_spec_line(tmp_path: Path) -> None:
    spec = DataSpec(path="nope.jsonl", file="experiments/a.yaml", line=4)
    prepared = prepare(
        spec, None, root=tmp_path, cache_dir=tmp_path / ".c", experiment="a", model="gpt-4o", method="supervised"
    )
    assert prepared.training is None
    (d,) = prepared.diagnostics
    assert d.check == "missing-file" and (d.file, d.line) == ("experiments/a.yaml", 4) and "nope.jsonl" in d.message


def test_an_unwritable_cache_is_a_diagnostic_not_a_crash(tmp_path: Path, jsonl: Callable[..., bytes]) -> None:
    (tmp_path / "d.jsonl").write_bytes(jsonl(*(_example(i) for i in range(10))))
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    spec = DataSpec(path="d.jsonl", file="experiments/a.yaml", line=3)
    prepared = prepare(
        spec, None, root=tmp_path, cache_dir=tmp_path / "cache", experiment="a", model="gpt-4o", method="supervised"
    )
    (d,) = prepared.diagnostics
    assert (d.check, d.file, d.line, d.severity) == ("io", "experiments/a.yaml", 3, Severity.ERROR)
    assert "cache" in d.message
