"""Reading training data: OpenAI chat JSONL for supervised jobs and the preference format for DPO.

Messages are normalised to `{"role", "content": str}` so any chat template can render them: content parts become
their text, an assistant's tool calls are written out as JSON after its text, and the legacy `function` role is
treated as `tool`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.server.training import TrainingFailed

ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass(frozen=True)
class ChatExample:
    messages: tuple[dict[str, str], ...]
    trained: tuple[bool, ...]  # per message: an assistant message whose tokens carry loss


@dataclass(frozen=True)
class PreferenceExample:
    prompt: tuple[dict[str, str], ...]
    preferred: dict[str, str]
    non_preferred: dict[str, str]


def _lines(path: Path, param: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingFailed(f"invalid_{param}", f"Cannot read {param} {path.name}: {exc}", param) from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrainingFailed(f"invalid_{param}", f"Line {number} is not valid JSON: {exc.msg}", param) from exc
        if not isinstance(value, dict):
            raise TrainingFailed(f"invalid_{param}", f"Line {number} is not a JSON object", param)
        yield number, value


def _content_text(content: Any, where: str, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise TrainingFailed(f"invalid_{param}", f"{where}: content part {kind!r} is not supported", param)
        return "".join(parts)
    raise TrainingFailed(f"invalid_{param}", f"{where}: content must be a string or a list of parts", param)


def normalise_message(message: Any, where: str, param: str = "training_file") -> dict[str, str]:
    if not isinstance(message, dict):
        raise TrainingFailed(f"invalid_{param}", f"{where}: a message must be an object", param)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise TrainingFailed(f"invalid_{param}", f"{where}: unrecognised role {role!r}", param)
    text = _content_text(message.get("content"), where, param)
    calls = message.get("tool_calls") or message.get("function_call")
    if calls:
        text = (text + "\n" if text else "") + json.dumps(calls, ensure_ascii=False, sort_keys=True)
    if role == "function":
        role = "tool"
    if role == "developer":
        role = "system"
    return {"role": role, "content": text}


def _is_trained(message: Mapping[str, Any]) -> bool:
    return message.get("role") == "assistant" and message.get("weight", 1) != 0


def load_chat_examples(path: Path, param: str = "training_file") -> list[ChatExample]:
    examples: list[ChatExample] = []
    for number, record in _lines(path, param):
        raw = record.get("messages")
        if not isinstance(raw, list) or not raw:
            raise TrainingFailed(f"invalid_{param}", f"Line {number}: `messages` must be a non-empty list", param)
        messages = tuple(normalise_message(m, f"Line {number}", param) for m in raw)
        trained = tuple(_is_trained(m) for m in raw)
        if not any(m["role"] == "assistant" for m in messages):
            raise TrainingFailed(f"invalid_{param}", f"Line {number}: the example has no assistant message", param)
        examples.append(ChatExample(messages, trained))
    if not examples:
        raise TrainingFailed(f"invalid_{param}", f"{path.name} has no examples", param)
    return examples


def _single_output(record: Mapping[str, Any], key: str, number: int, param: str) -> dict[str, str]:
    value = record.get(key)
    if not isinstance(value, list) or len(value) != 1:
        raise TrainingFailed(f"invalid_{param}", f"Line {number}: `{key}` must be a list of one message", param)
    message = normalise_message(value[0], f"Line {number}", param)
    if message["role"] != "assistant":
        raise TrainingFailed(f"invalid_{param}", f"Line {number}: `{key}` must hold an assistant message", param)
    return message


def load_preference_examples(path: Path, param: str = "training_file") -> list[PreferenceExample]:
    examples: list[PreferenceExample] = []
    for number, record in _lines(path, param):
        if "messages" in record and "input" not in record:
            raise TrainingFailed(
                f"invalid_{param}",
                f"Line {number} is in the chat format, but a DPO job needs the preference format "
                '({"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]})',
                param,
            )
        source = record.get("input")
        raw = source.get("messages") if isinstance(source, dict) else None
        if not isinstance(raw, list) or not raw:
            raise TrainingFailed(f"invalid_{param}", f"Line {number}: `input.messages` must be a non-empty list", param)
        prompt = tuple(normalise_message(m, f"Line {number}", param) for m in raw)
        examples.append(
            PreferenceExample(
                prompt,
                _single_output(record, "preferred_output", number, param),
                _single_output(record, "non_preferred_output", number, param),
            )
        )
    if not examples:
        raise TrainingFailed(f"invalid_{param}", f"{path.name} has no examples", param)
    return examples


def chat_texts(examples: list[ChatExample]) -> list[str]:
    return [m["content"] for ex in examples for m in ex.messages]


def preference_texts(examples: list[PreferenceExample]) -> list[str]:
    texts = [m["content"] for ex in examples for m in ex.prompt]
    texts += [ex.preferred["content"] for ex in examples] + [ex.non_preferred["content"] for ex in examples]
    return texts
