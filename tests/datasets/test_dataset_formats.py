"""Alpaca, ShareGPT and prompt/completion datasets become chat examples, with or without a template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.datasets import DataSpec, prepare, render_bytes
from runner.datasets.cleaning import Cleaning
from runner.datasets.sources import SourceError, read_records


def read(data: bytes, fmt: str, **options: Any) -> tuple[list[Any], Cleaning]:
    cleaning = Cleaning()
    return list(read_records(data, fmt, options, cleaning)), cleaning


def roles(record: Any) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record.fields["messages"]]


def test_alpaca_with_input_system_and_history() -> None:
    items = [
        {"instruction": "把这句话翻译成英文", "input": "今天天气很好", "output": "The weather is nice today.",
         "system": "You translate.", "history": [["你好", "Hello"]]},
        {"instruction": "Name a colour", "input": "", "output": "Blue 💙"},
        {"instruction": "Say nothing", "output": ""},
        {"instruction": "Name a colour", "input": "", "output": "Blue 💙"},
    ]  # fmt: skip
    array = ("[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n").encode()
    lines = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()
    for data, first_lines in ((array, [2, 3]), (lines, [1, 2])):
        records, cleaning = read(data, "alpaca")
        assert [r.line for r in records] == first_lines
        assert roles(records[0]) == [
            ("system", "You translate."),
            ("user", "你好"),
            ("assistant", "Hello"),
            ("user", "把这句话翻译成英文\n\n今天天气很好"),
            ("assistant", "The weather is nice today."),
        ]
        assert roles(records[1]) == [("user", "Name a colour"), ("assistant", "Blue 💙")]
        assert records[1].fields["instruction"] == "Name a colour"  # the record's own fields stay for templates
        assert dict(cleaning.skipped) == {"empty": 1, "duplicate": 1} and cleaning.unit == "record"


def test_sharegpt_conversations_and_the_messages_variant() -> None:
    data = "\n".join(
        json.dumps(x, ensure_ascii=False)
        for x in [
            {"conversations": [{"from": "system", "value": "Be kind."}, {"from": "human", "value": "hi"},
                               {"from": "gpt", "value": "hello!"}, {"from": "human", "value": "再见"},
                               {"from": "gpt", "value": "拜拜 👋"}]},
            {"system": "Short answers.", "conversations": [{"from": "user", "value": "2+2?"},
                                                           {"from": "assistant", "value": "4"}]},
            {"messages": [{"role": "user", "content": "ping"}, {"role": "assistant", "content": "pong"}]},
            {"conversations": [{"from": "human", "value": "only a question"}]},
            {"conversations": [{"from": "human", "value": "weather?"}, {"from": "function_call", "value": "{}"},
                               {"from": "observation", "value": "sunny"}, {"from": "gpt", "value": "Sunny."}]},
        ]
    ).encode()  # fmt: skip
    records, cleaning = read(data, "sharegpt")
    assert [roles(r) for r in records] == [
        [("system", "Be kind."), ("user", "hi"), ("assistant", "hello!"), ("user", "再见"), ("assistant", "拜拜 👋")],
        [("system", "Short answers."), ("user", "2+2?"), ("assistant", "4")],
        [("user", "ping"), ("assistant", "pong")],
    ]
    assert dict(cleaning.skipped) == {"no_reply": 1, "wrong_type": 1}


def test_prompt_completion_strips_the_legacy_whitespace() -> None:
    data = b'{"prompt": "Capital of France?\\n\\n", "completion": " Paris.\\n"}\n{"prompt": "x", "completion": ""}\n'
    records, cleaning = read(data, "prompt_completion")
    assert [roles(r) for r in records] == [[("user", "Capital of France?"), ("assistant", "Paris.")]]
    assert dict(cleaning.skipped) == {"empty": 1}


@pytest.mark.parametrize(
    ("fmt", "data", "line", "words"),
    [
        ("alpaca", b'{"instruction": "a", "output": "b"}\n{"question": "a"}\n', 2, "`instruction` must be a string"),
        ("alpaca", b'{"prompt": "a", "completion": "b"}\n', 1, "looks like a prompt_completion file"),
        ("sharegpt", b'{"conversations": [{"from": "robot", "value": "x"}]}\n', 1, "a turn from 'robot'"),
        ("prompt_completion", b'[{"instruction": "a", "output": "b"}]', 1, "looks like a alpaca file"),
        ("sharegpt", b'[{"conversations": []},\n{"conversations": [}]', 2, "not valid JSON"),
    ],
)
def test_records_of_another_shape_fail_naming_the_line(fmt: str, data: bytes, line: int, words: str) -> None:
    with pytest.raises(SourceError) as info:
        read(data, fmt)
    assert words in str(info.value) and info.value.line == line


def alpaca_file(root: Path, n: int) -> str:
    (root / "data").mkdir(parents=True, exist_ok=True)
    rows = [{"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."} for i in range(n)]
    (root / "data" / "train.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return "data/train.json"


def test_without_a_template_the_conversations_are_the_examples(tmp_path: Path) -> None:
    path = alpaca_file(tmp_path, 12)
    spec = DataSpec(source={"path": path, "format": "alpaca"}, vars={"system": "You answer."})
    examples = [json.loads(x) for x in render_bytes(spec, tmp_path).splitlines()]
    assert examples[0] == {
        "messages": [
            {"role": "system", "content": "You answer."},
            {"role": "user", "content": "Question 0?"},
            {"role": "assistant", "content": "Answer 0."},
        ]
    }
    prepared = prepare(
        spec, None, root=tmp_path, cache_dir=tmp_path / ".c", experiment="a", model="local/tiny", method="supervised"
    )
    assert prepared.diagnostics == () and prepared.training is not None
    assert prepared.training.examples == 12 and prepared.training.display == path


def test_a_plain_source_still_needs_a_template(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "faq.csv").write_text("question,answer\na,b\n")
    spec = DataSpec(source="data/faq.csv", file="experiments/x.yaml", line=3)
    prepared = prepare(
        spec, None, root=tmp_path, cache_dir=tmp_path / ".c", experiment="x", model="local/tiny", method="supervised"
    )
    (d,) = prepared.diagnostics
    assert d.check == "missing-template" and d.location == "experiments/x.yaml:3" and "needs a `template`" in d.message
