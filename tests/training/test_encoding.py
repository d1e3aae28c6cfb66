"""Which tokens carry loss: assistant turns only, and never an assistant turn with weight 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.server.training import TrainingFailed
from runner.server.training.encoding import IGNORE, encode_chat
from runner.server.training.examples import load_chat_examples, load_preference_examples
from runner.server.training.tokenizer_builder import build_tokenizer

CONVERSATION: list[dict[str, object]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "First question?"},
    {"role": "assistant", "content": "A bad first answer.", "weight": 0},
    {"role": "user", "content": "Second question?"},
    {"role": "assistant", "content": "A good second answer."},
]


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _labelled_text(tmp_path: Path, conversation: list[dict[str, object]]) -> str:
    (example,) = load_chat_examples(_write(tmp_path / "train.jsonl", [{"messages": conversation}]))
    tokenizer = build_tokenizer([m["content"] for m in example.messages], 512)
    encoded = encode_chat(tokenizer, example.messages, example.trained, 1024)
    assert len(encoded.labels) == len(encoded.input_ids)
    return str(tokenizer.decode([t for t in encoded.labels if t != IGNORE]))


def test_only_weighted_assistant_turns_are_labelled(tmp_path: Path) -> None:
    assert _labelled_text(tmp_path, CONVERSATION) == "A good second answer.<|im_end|>"


def test_every_assistant_turn_is_labelled_by_default(tmp_path: Path) -> None:
    conversation = [dict(m) for m in CONVERSATION]
    del conversation[2]["weight"]
    assert _labelled_text(tmp_path, conversation) == "A bad first answer.<|im_end|>A good second answer.<|im_end|>"


def test_tool_calls_and_content_parts_become_text(tmp_path: Path) -> None:
    conversation: list[dict[str, object]] = [
        {"role": "user", "content": [{"type": "text", "text": "Weather "}, {"type": "text", "text": "in Oslo?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "tool", "content": "rain"},
        {"role": "assistant", "content": "Rain."},
    ]
    (example,) = load_chat_examples(_write(tmp_path / "t.jsonl", [{"messages": conversation}]))
    assert example.messages[0]["content"] == "Weather in Oslo?"
    assert '"name": "w"' in example.messages[1]["content"]
    assert example.trained == (False, True, False, True)


@pytest.mark.parametrize(
    "row",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": "no answer"}]},
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"prompt": "legacy", "completion": "format"},
    ],
)
def test_bad_chat_examples_fail_the_job(tmp_path: Path, row: dict[str, object]) -> None:
    with pytest.raises(TrainingFailed) as err:
        load_chat_examples(_write(tmp_path / "bad.jsonl", [row]))
    assert err.value.code == "invalid_training_file"


def test_chat_file_given_to_dpo_is_named_as_such(tmp_path: Path) -> None:
    path = _write(tmp_path / "chat.jsonl", [{"messages": CONVERSATION}])
    with pytest.raises(TrainingFailed, match="chat format") as err:
        load_preference_examples(path)
    assert err.value.code == "invalid_training_file"
