"""Format checks of one training example, per fine-tuning method.

Check names follow OpenAI's chat fine-tuning data-preparation notebook where it has one (`data_type`,
`missing_messages_list`, `message_missing_key`, `message_unrecognized_key`, `unrecognized_role`, `missing_content`,
`example_missing_assistant_message`); the checks it lacks (tools, weights, preference data, method mismatch, empty
content) have names of their own, listed in CHECKS with their severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ERROR = "error"
WARNING = "warning"

# check name → severity
CHECKS: Mapping[str, str] = {
    # bytes and lines
    "invalid_utf8": ERROR,
    "invalid_json": ERROR,
    "byte_order_mark": WARNING,
    "crlf_line_endings": WARNING,
    "blank_line": WARNING,
    # the notebook's format errors
    "data_type": ERROR,
    "missing_messages_list": ERROR,
    "message_missing_key": ERROR,
    "message_unrecognized_key": ERROR,
    "unrecognized_role": ERROR,
    "missing_content": ERROR,
    "example_missing_assistant_message": ERROR,
    # what the notebook misses
    "format_mismatch": ERROR,
    "unrecognized_key": ERROR,
    "invalid_tools": ERROR,
    "invalid_tool_calls": ERROR,
    "tool_message_missing_id": ERROR,
    "invalid_weight": ERROR,
    "weight_not_on_assistant": ERROR,
    "invalid_preference_output": ERROR,
    "empty_content": WARNING,
    # whole-file and token checks
    "over_context_limit": WARNING,
    "duplicate_example": WARNING,
    "too_few_examples": ERROR,
}

MIN_TRAINING_EXAMPLES = 10

METHODS = ("supervised", "dpo", "reinforcement")

_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id"})
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_PLAIN_KEYS = frozenset({"role", "content"})
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})  # not "tool": it needs a tool_call_id
_SUPERVISED_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
_DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
_DPO_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})

Finding = tuple[str, str]  # (check name, message)


def _describe(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _shown(value: Any, limit: int = 60) -> str:
    """A value as a finding quotes it: its repr, cut short (a hostile line may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_tools(tools: Any, out: list[Finding]) -> None:
    if not isinstance(tools, list):
        out.append(("invalid_tools", f"`tools` must be a list, found {_describe(tools)}"))
        return
    for i, tool in enumerate(tools, start=1):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not (isinstance(tool, dict) and tool.get("type") == "function" and isinstance(fn, dict)):
            out.append(("invalid_tools", f'tool {i} must be {{"type": "function", "function": {{...}}}}'))
        elif not isinstance(fn.get("name"), str) or not fn["name"]:
            out.append(("invalid_tools", f"tool {i} has no function name"))


def _check_tool_calls(calls: Any, where: str, out: list[Finding]) -> None:
    if not isinstance(calls, list) or not calls:
        out.append(("invalid_tool_calls", f"{where}: `tool_calls` must be a non-empty list"))
        return
    for i, call in enumerate(calls, start=1):
        fn = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(call, dict) and isinstance(call.get("id"), str) and isinstance(fn, dict)):
            out.append(("invalid_tool_calls", f"{where}: tool call {i} needs an `id` and a `function`"))
        elif not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str):
            out.append(
                ("invalid_tool_calls", f"{where}: tool call {i} needs function `name` and `arguments` as a JSON string")
            )


def check_messages(messages: Any, method: str, out: list[Finding], *, where: str = "") -> None:
    """The notebook's message checks plus tools, weights and empty content. `where` prefixes messages."""
    if not isinstance(messages, list) or not messages:
        out.append(("missing_messages_list", f"{where}`messages` is missing or empty"))
        return
    has_assistant = False
    for i, message in enumerate(messages, start=1):
        # most messages are a role and some text: nothing below would find anything in them
        role = message.get("role") if type(message) is dict else None
        if type(role) is str and role in _PLAIN_ROLES and _PLAIN_KEYS.issuperset(message):
            content = message.get("content")
            if type(content) is str and content:
                has_assistant = has_assistant or role == "assistant"
                continue
        at = f"{where}message {i}"
        if not isinstance(message, dict):
            out.append(("message_missing_key", f"{at} is not an object (found {_describe(message)})"))
            continue
        role = message.get("role")
        calls = message.get("tool_calls")
        if "role" not in message or ("content" not in message and calls is None and "function_call" not in message):
            missing = "role" if "role" not in message else "content"
            out.append(("message_missing_key", f"{at} has no `{missing}`"))
        if not _MESSAGE_KEYS.issuperset(message):
            unknown = sorted(k for k in message if k not in _MESSAGE_KEYS)
            out.append(("message_unrecognized_key", f"{at} has unrecognized key(s): {', '.join(unknown)}"))
        if "role" in message and not (isinstance(role, str) and role in _ROLES):
            out.append(("unrecognized_role", f"{at} has unrecognized role {_shown(role)}"))
            if not isinstance(role, str) or len(role) > 60:
                role = _shown(role)  # named in the findings below; a list or an object cannot be looked up
        content = message.get("content")
        if "content" in message or calls is None:
            if content is None and calls is None and "function_call" not in message:
                if "content" in message:
                    out.append(("missing_content", f"{at} ({role}) has null content"))
            elif content is not None and not isinstance(content, str | list):
                out.append(("missing_content", f"{at} ({role}) content must be a string, found {_describe(content)}"))
            elif content is not None and not content and calls is None:
                out.append(("empty_content", f"{at} ({role}) has empty content"))
        if calls is not None:
            if role != "assistant":
                out.append(("invalid_tool_calls", f"{at}: only assistant messages may carry `tool_calls`"))
            else:
                _check_tool_calls(calls, at, out)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            out.append(("tool_message_missing_id", f"{at} (tool) has no `tool_call_id`"))
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                out.append(("weight_not_on_assistant", f"{at} ({role}) has a weight; only assistant messages may"))
            elif isinstance(weight, bool) or weight not in (0, 1):
                out.append(("invalid_weight", f"{at} has weight {_shown(weight)}; weight must be 0 or 1"))
        if role == "assistant":
            has_assistant = True
    if not has_assistant and method == "supervised":
        out.append(("example_missing_assistant_message", f"{where}no assistant message"))


def _check_output(example: dict[str, Any], key: str, out: list[Finding]) -> None:
    value = example.get(key)
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        out.append(("invalid_preference_output", f"`{key}` must be a list of exactly one assistant message"))
        return
    message = value[0]
    if message.get("role") != "assistant":
        out.append(("invalid_preference_output", f"`{key}` must be an assistant message"))
    check_messages(value, "supervised", out, where=f"{key}: ")


def check_example(example: Any, method: str) -> list[Finding]:
    """Every format finding for one parsed example of `method` ("supervised", "dpo" or "reinforcement")."""
    out: list[Finding] = []
    if not isinstance(example, dict):
        out.append(("data_type", f"example is not a JSON object (found {_describe(example)})"))
        return out
    looks_dpo = "input" in example or "preferred_output" in example
    if method == "dpo":
        if not looks_dpo:
            kind = "chat (supervised)" if "messages" in example else "unrecognised"
            out.append(("format_mismatch", f"{kind} data, but the method is dpo: expected input/preferred_output/..."))
            return out
        unknown = sorted(k for k in example if k not in _DPO_KEYS)
        if unknown:
            out.append(("unrecognized_key", f"unrecognized key(s) for preference data: {', '.join(unknown)}"))
        inp = example.get("input")
        if not isinstance(inp, dict):
            out.append(("missing_messages_list", "`input` must be an object with `messages`"))
        else:
            extra = sorted(k for k in inp if k not in _DPO_INPUT_KEYS)
            if extra:
                out.append(("unrecognized_key", f"unrecognized key(s) in `input`: {', '.join(extra)}"))
            check_messages(inp.get("messages"), "reinforcement", out, where="input: ")
            if "tools" in inp:
                _check_tools(inp["tools"], out)
        _check_output(example, "preferred_output", out)
        _check_output(example, "non_preferred_output", out)
        return out
    if looks_dpo:
        out.append(("format_mismatch", f"preference (DPO) data, but the method is {method}"))
        return out
    if "prompt" in example and "completion" in example and "messages" not in example:
        out.append(("format_mismatch", f"legacy prompt/completion data, but the method is {method} (chat format)"))
        return out
    if method == "supervised" and not _SUPERVISED_KEYS.issuperset(example):
        unknown = sorted(k for k in example if k not in _SUPERVISED_KEYS)
        out.append(("unrecognized_key", f"unrecognized key(s): {', '.join(unknown)}"))
    check_messages(example.get("messages"), method, out)
    if "tools" in example:
        _check_tools(example["tools"], out)
    return out


def messages_to_count(example: Any) -> list[Any]:
    """The messages whose tokens an example costs: chat messages, or DPO input plus both outputs."""
    if not isinstance(example, dict):
        return []
    if "input" in example and isinstance(example["input"], dict):
        msgs = list(example["input"].get("messages") or [])
        for key in ("preferred_output", "non_preferred_output"):
            value = example.get(key)
            if isinstance(value, list):
                msgs.extend(value)
        return msgs
    messages = example.get("messages")
    return messages if isinstance(messages, list) else []
