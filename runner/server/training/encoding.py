"""Turning conversations into token ids with labels on the trained assistant tokens only.

Any chat template works: the conversation is rendered once as text, the character span of each trained assistant
turn is found by rendering the conversation up to that turn (with and without it), and tokens whose first character
falls inside a span get labels. The span includes the template's end-of-turn marker (the eos token), so the model
learns to stop, and nothing after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE where no loss is taken

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def render(tokenizer: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool = False) -> str:
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)
    return str(text)


# The marker that closes a reasoning block. Templates that rewrite earlier turns (Qwen3, DeepSeek-R1) drop the
# reasoning of earlier assistant turns and keep what follows it.
REASONING_END = "</think>"


def _end_of_turn(tokenizer: Any, full: str, content_end: int, span_end: int) -> int:
    """Where the trained span ends: just after the end-of-turn marker (the eos token) that follows the reply, when
    the template puts one there; what comes after it (a newline before the next turn) is not the model's to write."""
    eos = getattr(tokenizer, "eos_token", None)
    if eos:
        at = full.find(eos, content_end, span_end)
        if at >= 0 and not full[content_end:at].strip():
            return at + len(eos)
    return span_end


def _assistant_span(tokenizer: Any, messages: Sequence[dict[str, str]], index: int, full: str) -> tuple[int, int]:
    before = render(tokenizer, messages[:index], add_generation_prompt=True)
    upto = render(tokenizer, messages[: index + 1])
    content = messages[index]["content"]
    if full.startswith(upto) and upto.startswith(before) and len(upto) > len(before):
        reply = content.strip()
        at = upto.rfind(reply) if reply else len(before)
        if at < len(before):  # the template changed the reply's text: train on the whole turn it wrote
            return len(before), len(upto)
        return len(before), _end_of_turn(tokenizer, full, at + len(reply), len(upto))
    # Templates that rewrite earlier turns (e.g. drop reasoning) break the prefix property: find the reply as the
    # template wrote it, after the prompt that leads to it.
    offset = len(before) if full.startswith(before) else 0
    for text in (content, content.split(REASONING_END)[-1].strip(), content.strip()):
        start = full.find(text, offset) if text else -1
        if start >= 0:
            end = start + len(text)
            return start, _end_of_turn(tokenizer, full, end, len(full))
    return 0, 0


def encode_chat(
    tokenizer: Any, messages: Sequence[dict[str, str]], trained: Sequence[bool], max_length: int
) -> Encoded:
    full = render(tokenizer, messages)
    spans = [_assistant_span(tokenizer, messages, i, full) for i, flag in enumerate(trained) if flag]
    spans = [s for s in spans if s[1] > s[0]]
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])[:max_length]
    offsets = list(enc["offset_mapping"])[:max_length]
    labels = [IGNORE] * len(ids)
    for i, (start, end) in enumerate(offsets):
        if end > start and any(lo <= start < hi for lo, hi in spans):
            labels[i] = ids[i]
    return Encoded(ids, labels)


def encode_prompt(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    text = render(tokenizer, messages, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
