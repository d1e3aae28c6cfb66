"""Token counts equal tiktoken's own, with the notebook's per-message overhead, for the right encoding per model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken_ext.openai_public as registry

from runner.datasets import DataSpec, prepare
from runner.datasets.tokens import (
    CL100K,
    DEFAULT_CONTEXT_LIMIT,
    ENCODINGS,
    O200K,
    context_limit,
    count_messages,
    encoding_for_model,
    get_encoding,
    load_ranks,
)


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_encoding_matches_tiktokens_registry(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's own constructor, fed our verified ranks, yields exactly our pat_str and special tokens."""
    ranks = load_ranks(name)

    def offline_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert expected_hash == ENCODINGS[name].sha256  # the hash we verify is the one tiktoken expects
        return ranks

    monkeypatch.setattr(registry, "load_tiktoken_bpe", offline_loader)
    official = tiktoken.Encoding(**registry.ENCODING_CONSTRUCTORS[name]())
    ours = get_encoding(name)
    assert ours._pat_str == official._pat_str
    assert ours._special_tokens == official._special_tokens
    assert ours.n_vocab == official.n_vocab
    text = "Fine-tuning 微调 costs $25.00 per 1M tokens.\r\n  Ça va? 🙂"
    assert ours.encode(text) == official.encode(text)


def test_known_counts() -> None:
    assert get_encoding(O200K).encode("hello world") == [24912, 2375]
    assert get_encoding(CL100K).encode("hello world") == [15339, 1917]


def notebook_count(enc: tiktoken.Encoding, messages: list[dict[str, Any]]) -> tuple[int, int]:
    """The cookbook notebook's counting, written out independently (non-strings JSON-dumped)."""
    n = 0
    for message in messages:
        n += 3
        for key, value in message.items():
            n += len(enc.encode(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
            if key == "name":
                n += 1
    n += 3
    assistant = sum(len(enc.encode(m["content"])) for m in messages if m["role"] == "assistant" and "content" in m)
    return n, assistant


MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "name": "bob", "content": "How many r's are in strawberry? 草莓有几个r？"},
    {"role": "assistant", "content": "Three.", "weight": 1},
]


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_counts_equal_tiktoken_with_notebook_overhead(name: str) -> None:
    enc = get_encoding(name)
    assert count_messages(enc, MESSAGES) == notebook_count(enc, MESSAGES)


def test_hand_computed_count() -> None:
    enc = get_encoding(O200K)
    msgs = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "hello world"}]
    # 3 + (user=1 + 2) + 3 + (assistant=1 + 2) + 3
    assert [len(enc.encode(s)) for s in ("user", "assistant")] == [1, 1]
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
    assert tokens == notebook_count(enc, msgs)[0]
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
    enc = get_encoding(O200K)
    per_example = sorted(notebook_count(enc, e["messages"])[0] for e in examples)
    assert stats.encoding == O200K and stats.examples == 12
    assert stats.total_tokens == sum(per_example) == stats.billed_tokens_per_epoch
    assert stats.assistant_tokens == sum(notebook_count(enc, e["messages"])[1] for e in examples)
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
                enc, [{"role": "user", "content": text}]
            )
    assert len(tokens._memos[O200K]) <= 3
