"""Instruction-tuning datasets in the shapes they are published in, each record turned into one chat example.

- `alpaca`: `instruction`, optional `input` (joined to the instruction by a blank line), `output`, optional `system`
  and `history` (a list of earlier [instruction, answer] pairs) → system?, (user, assistant)*, user, assistant.
- `sharegpt`: `conversations`, a list of {"from": "human" | "gpt" | "system", "value": ...} (also "user",
  "assistant", "chatgpt", "model"), with an optional top-level `system`; or the `messages` variant, a list of
  {"role", "content"}. A conversation with tool turns (function_call, observation, tool) is left out as not text.
- `prompt_completion`: OpenAI's legacy `prompt` / `completion` pairs → user, assistant (surrounding whitespace, which
  the legacy format asked for, is stripped).

A file is JSON Lines, or one JSON array (read incrementally). Each record keeps its own fields and gains `messages`;
without a template, those messages are the example. Records with no answer, empty ones and exact duplicates are left
out and counted; personal data is scrubbed only when the source asks (`scrub: true` or a list of kinds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import check_keys
from runner.datasets.exports.lines import json_events, text_lines
from runner.datasets.exports.sniff import FormatMismatch, hint_for
from runner.datasets.scrub import Scrubber, parse_kinds
from runner.datasets.sources import Record, SourceError, jsonl_records

FORMATS = ("alpaca", "sharegpt", "prompt_completion")
KEYS = frozenset({"scrub"})

_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "system": "system",
}
_TOOL_ROLES = frozenset({"function_call", "observation", "tool", "function", "tool_call", "tool_response"})
_EXPECTED = {
    "alpaca": "`instruction` and `output`",
    "sharegpt": "`conversations` (from/value) or `messages` (role/content)",
    "prompt_completion": "`prompt` and `completion`",
}


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _text(record: Mapping[str, Any], key: str, line: int, fmt: str, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        found = "nothing" if value is None else type(value).__name__
        raise FormatMismatch(
            fmt, f"`{key}` must be a string, found {found} (a {fmt} record has {_EXPECTED[fmt]})", line
        )
    return value


def _alpaca(record: Mapping[str, Any], line: int) -> list[dict[str, str]]:
    instruction = _text(record, "instruction", line, "alpaca")
    extra = _text(record, "input", line, "alpaca", required=False)
    output = _text(record, "output", line, "alpaca")
    system = _text(record, "system", line, "alpaca", required=False)
    messages = [{"role": "system", "content": system}] if system.strip() else []
    history = record.get("history") or []
    if not isinstance(history, list):
        raise FormatMismatch("alpaca", "`history` must be a list of [instruction, answer] pairs", line)
    for pair in history:
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise FormatMismatch("alpaca", "`history` must be a list of [instruction, answer] pairs", line)
        messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    if not output.strip() or not prompt.strip():
        raise _Skip("empty")
    return [*messages, {"role": "user", "content": prompt}, {"role": "assistant", "content": output}]


def _sharegpt(record: Mapping[str, Any], line: int) -> list[dict[str, str]]:
    turns = record.get("conversations")
    if turns is None:
        turns = record.get("messages")
    if not isinstance(turns, list):
        raise FormatMismatch("sharegpt", f"a sharegpt record has {_EXPECTED['sharegpt']}", line)
    system = record.get("system")
    messages = [{"role": "system", "content": system}] if isinstance(system, str) and system.strip() else []
    for turn in turns:
        if not isinstance(turn, dict):
            raise FormatMismatch("sharegpt", "each turn must be an object with from/value or role/content", line)
        who = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        if who in _TOOL_ROLES:
            raise _Skip("wrong_type")
        role = _SHAREGPT_ROLES.get(str(who).lower()) if isinstance(who, str) else None
        if role is None or not isinstance(text, str):
            raise FormatMismatch(
                "sharegpt",
                f"a turn from {who!r} with {type(text).__name__} content "
                f"(expected from {', '.join(sorted(_SHAREGPT_ROLES))} and a string value)",
                line,
            )
        messages.append({"role": role, "content": text})
    if not any(m["role"] == "assistant" for m in messages):
        raise _Skip("no_reply")
    if not any(m["content"].strip() for m in messages if m["role"] != "system"):
        raise _Skip("empty")
    return messages


def _prompt_completion(record: Mapping[str, Any], line: int) -> list[dict[str, str]]:
    prompt = _text(record, "prompt", line, "prompt_completion").strip()
    completion = _text(record, "completion", line, "prompt_completion").strip()
    if not prompt or not completion:
        raise _Skip("empty")
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


_CONVERT = {"alpaca": _alpaca, "sharegpt": _sharegpt, "prompt_completion": _prompt_completion}


def _objects(data: bytes | Path) -> Iterator[Record]:
    first = next((line.lstrip()[:1] for line in text_lines(data) if line.strip()), "")
    if first == "[":
        for _, _, line, value in json_events(data, frozenset({"item"})):
            if not isinstance(value, dict):
                raise SourceError(f"a record must be a JSON object, found {type(value).__name__}", line)
            yield Record(line, value)
    else:
        yield from jsonl_records(text_lines(data))


def read_dataset(data: bytes | Path, fmt: str, options: Mapping[str, Any], cleaning: Cleaning) -> Iterator[Record]:
    """One record per example of a dataset file, with `messages` added to its fields."""
    try:
        check_keys(fmt, options, KEYS)
        scrub = Scrubber(parse_kinds(options.get("scrub", False)), cleaning.scrubbed)
    except ValueError as e:
        raise SourceError(str(e), None) from e
    cleaning.unit = "record"
    convert = _CONVERT[fmt]
    seen: set[bytes] = set()
    try:
        for record in _objects(data):
            try:
                messages = convert(record.fields, record.line)
            except _Skip as s:
                cleaning.skip(s.reason)
                continue
            key = hashlib.blake2b(json.dumps(messages, ensure_ascii=False).encode(), digest_size=12).digest()
            if key in seen:
                cleaning.skip("duplicate")
                continue
            seen.add(key)
            if scrub.kinds:
                messages = [{**m, "content": scrub(m["content"])} for m in messages]
            yield Record(record.line, {**record.fields, "messages": messages})
    except FormatMismatch as e:
        raise SourceError(f"not a {fmt} record: {e}{hint_for(fmt, data)}", e.line) from e
