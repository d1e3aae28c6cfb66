"""Token counts equal tiktoken's own engine fed OpenAI's official ranks, with the notebook's per-message overhead, for
the right encoding per model."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import tiktoken

from runner.datasets import DataSpec, prepare
from runner.datasets.token_reference import official
from runner.datasets.tokens import (
    CL100K,
    DEFAULT_CONTEXT_LIMIT,
    O200K,
    context_limit,
    count_messages,
    count_text,
    encoding_for_model,
    get_encoding,
)


def varied_texts(seed: int, n: int) -> list[str]:
    """Text of every kind the BPE splits differently: ASCII, CJK, accents, emoji, digits, spaces, newlines, specials."""
    rng = random.Random(seed)
    pools = [(32, 126), (0x4E00, 0x9FFF), (0xC0, 0x24F), (0x1F300, 0x1F6FF), (0x3040, 0x30FF), (0x400, 0x4FF)]
    fixed = ["", " ", "\n\n\n", "a" * 5_000, "<|endoftext|> hi", "<|endofprompt|>", "don't I'LL we'Ve", "1234567890"]
    fixed += ["   \t  x\r\n", "\u200b\ufeff", "Fine-tuning 微调 costs $25.00 per 1M tokens.\r\n  Ça va? 🙂"]
    out = list(fixed)
    for _ in range(n):
        chars = []
        for _ in range(rng.randint(0, 80)):
            r = rng.random()
            if r < 0.1:
                chars.append(rng.choice(" \n\t'"))
            else:
                lo, hi = rng.choice(pools)
                chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars))
    return out


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_counts_equal_tiktoken_on_official_ranks(name: str) -> None:
    ours, reference = get_encoding(name), official(name)
    texts = varied_texts(seed=len(name), n=3_000)
    assert [count_text(ours, t) for t in texts] == [len(reference.encode_ordinary(t)) for t in texts]
    assert ours.encode_ordinary(texts[-1]) == reference.encode_ordinary(texts[-1])


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_lone_surrogates_count_as_tiktoken_counts_them(name: str) -> None:
    text = "ab\ud800cd \udfff"  # JSON can carry these; Python strings hold them
    assert count_text(get_encoding(name), text) == len(official(name).encode_ordinary(text))


def test_known_counts() -> None:
    assert get_encoding(O200K).encode_ordinary("hello world") == [24912, 2375]
    assert get_encoding(CL100K).encode_ordinary("hello world") == [15339, 1917]


def notebook_count(enc: tiktoken.Encoding, messages: list[dict[str, Any]]) -> tuple[int, int]:
    """The cookbook notebook's counting, written out independently (non-strings JSON-dumped)."""
    n = 0
    for message in messages:
        n += 3
        for key, value in message.items():
            n += len(enc.encode_ordinary(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
            if key == "name":
                n += 1
    n += 3
    assistant = sum(
        len(enc.encode_ordinary(m["content"])) for m in messages if m["role"] == "assistant" and "content" in m
    )
    return n, assistant


MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "name": "bob", "content": "How many r's are in strawberry? 草莓有几个r？"},
    {"role": "assistant", "content": "Three.", "weight": 1},
]


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_counts_equal_tiktoken_with_notebook_overhead(name: str) -> None:
    enc = get_encoding(name)
    assert count_messages(enc, MESSAGES) == notebook_count(official(name), MESSAGES)


def test_hand_computed_count() -> None:
    enc = get_encoding(O200K)
    msgs = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "hello world"}]
    # 3 + (user=1 + 2) + 3 + (assistant=1 + 2) + 3
    assert [len(enc.encode_ordinary(s)) for s in ("user", "assistant")] == [1, 1]
    assert count_messages(enc, msgs) == (15, 2)


def test_weight_zero_messages_are_not_trained_tokens() -> None:
    enc = get_encoding(O200K)
    msgs: list[dict[str, Any]] = [
        {"role": "user", "content": "hello world"},
        {"role": "assistant", "content": "hello world", "weight": 0},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "hello world", "weight": 1},
    ]
    tokens, assistant = count_messages(enc, msgs)
    assert tokens == notebook_count(official(O200K), msgs)[0]
    assert assistant == 2


def test_special_token_text_is_counted_as_text() -> None:
    enc = get_encoding(O200K)
    tokens, _ = count_messages(enc, [{"role": "user", "content": "<|endoftext|>"}])
    assert tokens == 3 + 1 + len(enc.encode_ordinary("<|endoftext|>")) + 3


@pytest.mark.parametrize(
    ("model", "encoding", "limit"),
    [
        ("gpt-4.1-mini-2025-04-14", O200K, 65_536),
        ("ft:gpt-4.1-2025-04-14:acme:support:AbC12345", O200K, 65_536),
        ("ft:gpt-4o-mini-2024-07-18:org::abc", O200K, 65_536),
        ("o4-mini-2025-04-16", O200K, 65_536),
        ("gpt-3.5-turbo-0125", CL100K, 16_385),
        ("ft:gpt-3.5-turbo-0613:org:x:y", CL100K, 4_096),
        ("gpt-4-0613", CL100K, 8_192),
        ("babbage-002", CL100K, 16_384),
        ("local/tiny", O200K, DEFAULT_CONTEXT_LIMIT),
        ("/models/llama", O200K, DEFAULT_CONTEXT_LIMIT),
    ],
)
def test_model_table(model: str, encoding: str, limit: int) -> None:
    assert encoding_for_model(model) == encoding
    assert context_limit(model) == limit


def test_prepare_counts_like_tiktoken(tmp_path: Path) -> None:
    examples = [
        {"messages": [{"role": "user", "content": f"Question {i} 问题"}, {"role": "assistant", "content": "A" * i}]}
        for i in range(1, 13)
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in examples) + "\n")
    prepared = prepare(
        DataSpec(path="d.jsonl"),
        None,
        root=tmp_path,
        cache_dir=tmp_path / ".c",
        experiment="t",
        model="ft:gpt-4.1-mini-2025-04-14:org::x",
        method="supervised",
    )
    assert prepared.diagnostics == ()
    assert prepared.training is not None and prepared.training.stats is not None
    stats = prepared.training.stats
    per_example = sorted(notebook_count(official(O200K), e["messages"])[0] for e in examples)
    assert stats.encoding == O200K and stats.examples == 12
    assert stats.total_tokens == sum(per_example) == stats.billed_tokens_per_epoch
    assert stats.assistant_tokens == sum(notebook_count(official(O200K), e["messages"])[1] for e in examples)
    assert stats.max == per_example[-1]
    assert stats.p10 <= stats.p50 <= stats.p90 <= stats.max
    assert stats.p50 in per_example
    assert (stats.missing_system, stats.missing_user) == (12, 0)


def test_remembered_counts_stay_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.datasets.tokens as tokens

    monkeypatch.setattr(tokens, "_MEMO_MAX_ENTRIES", 3)
    monkeypatch.setattr(tokens, "_memos", {})
    enc = get_encoding(O200K)
    texts = [f"message {i} 消息" * (i % 4 + 1) for i in range(20)] + ["x" * 3_000]
    for _ in range(2):
        for text in texts:
            assert count_messages(enc, [{"role": "user", "content": text}]) == notebook_count(
                official(O200K), [{"role": "user", "content": text}]
            )
    assert len(tokens._memos[O200K]) <= 3
