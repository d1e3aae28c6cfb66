"""Checks a job's training or validation file at `validating_files`, with OpenAI's failure codes and messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.server.training import TrainingFailed

MIN_TRAINING_EXAMPLES = 10
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_FORMAT_FOR_METHOD = {"supervised": "fine-tune-chat", "dpo": "fine-tune-preference"}


def _example_format(obj: Mapping[str, Any]) -> str | None:
    if "messages" in obj:
        return "fine-tune-chat"
    if "input" in obj and "preferred_output" in obj and "non_preferred_output" in obj:
        return "fine-tune-preference"
    if "prompt" in obj and "completion" in obj:
        return "fine-tune-completion"
    return None


def _message_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for m in messages:
        if not isinstance(m, Mapping):
            return "each message must be an object"
        if not isinstance(m.get("role"), str) or m["role"] not in _ROLES:
            return f"unrecognized role {m.get('role')!r}"
        content = m.get("content")
        if content is None and not m.get("tool_calls") and not m.get("function_call"):
            return "a message is missing 'content'"
        if content is not None and not isinstance(content, str | list):
            return "message content must be a string or a list of parts"
    return None


def _example_problem(obj: Mapping[str, Any], fmt: str) -> str | None:
    if fmt == "fine-tune-chat":
        problem = _message_problem(obj.get("messages"))
        if problem:
            return problem
        if not any(isinstance(m, Mapping) and m.get("role") == "assistant" for m in obj["messages"]):
            return "the example has no assistant message"
        return None
    if fmt == "fine-tune-preference":
        inp = obj.get("input")
        if not isinstance(inp, Mapping):
            return "'input' must be an object with 'messages'"
        problem = _message_problem(inp.get("messages"))
        if problem:
            return problem
        for key in ("preferred_output", "non_preferred_output"):
            out = obj.get(key)
            if not isinstance(out, list) or len(out) != 1 or not isinstance(out[0], Mapping):
                return f"'{key}' must be a list holding exactly one assistant message"
            if out[0].get("role") != "assistant":
                return f"'{key}' must hold an assistant message"
        return None
    return "unsupported example format"


def check_file(path: Path, file_id: str, method: str, *, role: str = "training") -> int:
    """Return the number of examples in the file, or raise `TrainingFailed` with OpenAI's code for the problem."""
    param = f"{role}_file"
    code = f"invalid_{role}_file"
    expected = _FORMAT_FOR_METHOD[method]

    def fail(detail: str) -> TrainingFailed:
        return TrainingFailed(
            code,
            f"The job failed due to an invalid {role} file. Invalid file format. Input file {file_id}: {detail}",
            param,
        )

    n = 0
    try:
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise fail(f"line {lineno} is not valid JSON.") from None
                if not isinstance(obj, dict):
                    raise fail(f"line {lineno} is not a JSON object.")
                fmt = _example_format(obj)
                if fmt is None:
                    raise fail(f"line {lineno} is neither a chat nor a preference example.")
                if fmt != expected:
                    raise TrainingFailed(
                        code,
                        f"The job failed due to an invalid {role} file. Invalid file format. Input file {file_id} is"
                        f" in the {fmt} format, but the specified fine-tuning job is not using"
                        f" '{'supervised' if fmt == 'fine-tune-chat' else 'dpo'}' as the training method"
                        f" (provided method={method}).",
                        param,
                    )
                problem = _example_problem(obj, fmt)
                if problem:
                    raise fail(f"example on line {lineno}: {problem}.")
                n += 1
    except FileNotFoundError:
        raise TrainingFailed(code, f"The {role} file {file_id} no longer exists.", param) from None
    if role == "training" and n < MIN_TRAINING_EXAMPLES:
        raise TrainingFailed(
            "invalid_n_examples",
            f"Training file has {n} example(s), but must have at least {MIN_TRAINING_EXAMPLES} examples",
            "training_file",
        )
    if n == 0:
        raise fail("the file has no examples.")
    return n
