"""Exact OpenAI token counts offline.

The counting engine is quicktok's: an exact implementation of OpenAI's BPE that ships `o200k_base` and `cl100k_base`
and counts without building token lists, several times faster than tiktoken (measured in `bench/data_bench.py`).
The tests hold its counts equal to tiktoken's own engine fed the official ranks. Which encoding a model uses is
decided by our own table, because tiktoken maps fine-tuned `ft:gpt-4.1-*` names to the wrong encoding.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Protocol

O200K = "o200k_base"
CL100K = "cl100k_base"
ENCODINGS = (O200K, CL100K)

# Context length an example may use in training; longer examples are truncated from the end.
DEFAULT_CONTEXT_LIMIT = 65_536  # unknown and local models (the built-in server): a documented default


class Encoding(Protocol):
    """What counting needs of an encoding (quicktok's `Tokenizer`)."""

    @property
    def name(self) -> str: ...

    def count(self, text: str, /) -> int: ...

    def encode_ordinary(self, text: str, /) -> list[int]: ...


class EncodingUnavailable(RuntimeError):
    """The encoding's files are missing or damaged."""


_cache: dict[str, Encoding] = {}
_lock = threading.Lock()


def get_encoding(name: str) -> Encoding:
    """The encoding `name`, loaded once per process (scan workers started by fork inherit it)."""
    with _lock:
        enc = _cache.get(name)
        if enc is None:
            if name not in ENCODINGS:
                raise EncodingUnavailable(f"unknown encoding {name!r}")
            try:
                import quicktok

                enc = quicktok.get_encoding(name)
            except (ImportError, RuntimeError, OSError) as e:
                raise EncodingUnavailable(f"the {name} encoding cannot be loaded (package quicktok-v1): {e}") from e
            _cache[name] = enc
        return enc


def count_text(enc: Encoding, text: str) -> int:
    """Tokens of `text` encoded as ordinary text (special-token text counts as text, as OpenAI's notebook does)."""
    try:
        return enc.count(text)
    except (TypeError, UnicodeEncodeError):
        # lone surrogates (JSON allows "\ud800"): replaced, as tiktoken does before encoding
        return enc.count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$|-\d{4}$")


def base_model(model: str) -> str:
    """The base snapshot of a model name: `ft:gpt-4o-mini-2024-07-18:org::abc` → `gpt-4o-mini-2024-07-18`."""
    if model.startswith("ft:"):
        return model[3:].split(":", 1)[0]
    return model


def model_alias(model: str) -> str:
    """The base model without its snapshot date: `gpt-4.1-mini-2025-04-14` → `gpt-4.1-mini`."""
    return _DATE_SUFFIX.sub("", base_model(model))


def encoding_for_model(model: str) -> str:
    """gpt-3.5, gpt-4 (not 4o / 4.1 / 4.5), davinci-002 and babbage-002 use cl100k_base; everything else o200k_base."""
    name = base_model(model)
    if name.startswith(("gpt-3.5", "davinci-002", "babbage-002")):
        return CL100K
    if name == "gpt-4" or name.startswith("gpt-4-") or name.startswith("gpt-4-32k"):
        return CL100K
    return O200K


# Longest example the model trains on (OpenAI's documented training context per example).
_CONTEXT_LIMITS: tuple[tuple[str, int], ...] = (
    ("gpt-3.5-turbo-0613", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("gpt-4o-mini", 65_536),
    ("gpt-4o", 65_536),
    ("gpt-4.1", 65_536),
    ("o4-mini", 65_536),
    ("gpt-4-0613", 8_192),
    ("davinci-002", 16_384),
    ("babbage-002", 16_384),
)


def context_limit(model: str) -> int:
    name = base_model(model)
    for prefix, limit in _CONTEXT_LIMITS:
        if name.startswith(prefix):
            return limit
    return DEFAULT_CONTEXT_LIMIT


TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMER = 3


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# Short strings repeat across examples (roles, names, the system prompt): their counts are remembered per encoding.
_MEMO_MAX_CHARS = 2_048
_MEMO_MAX_ENTRIES = 4_096
_memos: dict[str, dict[str, int]] = {}


def count_messages(enc: Encoding, messages: list[Any], *, plain: bool = False) -> tuple[int, int]:
    """(tokens, assistant tokens) of a messages list, counted as OpenAI's data-prep notebook does.

    Σ over messages (3 + Σ tokens of every value, + 1 for a `name` key) + 3. Non-string values (weight, tool_calls)
    are JSON-dumped; special-token text is counted as ordinary text. Assistant tokens are the trained ones: the
    `content` and `tool_calls` of assistant messages, except those with `weight: 0`. `plain=True` encodes every
    value with no counts remembered (the reference the remembered counts are tested against).
    """
    total = TOKENS_REPLY_PRIMER
    assistant = 0
    memo: dict[str, int] = {} if plain else _memos.setdefault(enc.name, {})
    remembered = memo.get
    for message in messages:
        total += TOKENS_PER_MESSAGE
        if type(message) is not dict:
            total += count_text(enc, _text(message))
            continue
        trained = message.get("role") == "assistant" and message.get("weight", 1) != 0
        for key, value in message.items():
            if value is None:
                continue
            if type(value) is not str:
                value = _text(value)
            n = remembered(value)
            if n is None:
                n = count_text(enc, value)
                if not plain and len(value) <= _MEMO_MAX_CHARS:
                    if len(memo) >= _MEMO_MAX_ENTRIES:
                        memo.clear()
                    memo[value] = n
            total += n
            if key == "name":
                total += TOKENS_PER_NAME
            elif trained and (key == "content" or key == "tool_calls"):
                assistant += n
    return total, assistant
