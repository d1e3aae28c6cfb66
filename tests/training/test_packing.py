"""Packed batches train like padded ones: the same loss and gradients on the same examples, on a real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import MARV, read_jsonl, run_job

from runner.server.training.batching import collate, collate_packed
from runner.server.training.encoding import encode_chat
from runner.server.training.models import load_model, load_tokenizer
from runner.server.training.packing import keeps_packed_examples_apart
from runner.server.training.sft_loss import sft_loss

pytestmark = [pytest.mark.slow, pytest.mark.training]


def _loss_and_grads(model: object, batch: object) -> tuple[float, int, int, list[object]]:
    import torch

    model.zero_grad()  # type: ignore[attr-defined]
    result = sft_loss(model, batch)  # type: ignore[arg-type]
    result.loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]  # type: ignore[attr-defined]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    return float(result.loss), result.correct, result.counted, grads


def test_packed_and_padded_batches_give_the_same_loss_and_gradients(hf_model_dir: Path) -> None:
    import torch

    torch.manual_seed(0)
    model, tokenizer = load_model(hf_model_dir), load_tokenizer(hf_model_dir)
    model.train()
    assert keeps_packed_examples_apart(model, tokenizer.pad_token_id)
    rows = read_jsonl(MARV)[:6]
    encoded = [
        encode_chat(tokenizer, r["messages"], [m["role"] == "assistant" for m in r["messages"]], 512) for r in rows
    ]
    assert len({len(e.input_ids) for e in encoded}) > 1  # lengths differ: the padded batch has padding
    padded, packed = collate(encoded, tokenizer.pad_token_id), collate_packed(encoded, tokenizer.pad_token_id)
    assert packed.computed_tokens == packed.tokens < padded.computed_tokens
    loss_a, correct_a, counted_a, grads_a = _loss_and_grads(model, padded)
    loss_b, correct_b, counted_b, grads_b = _loss_and_grads(model, packed)
    assert counted_a == counted_b == sum(e.trained_tokens for e in encoded)
    assert correct_a == correct_b
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5)  # float32 summation order


def test_a_job_packs_and_learns(tmp_path: Path) -> None:
    result, hooks = run_job(tmp_path, requested={"n_epochs": 4, "batch_size": 4})
    assert result.status == "succeeded"
    assert any("packed batches" in text for _, text in hooks.messages), hooks.messages
    assert hooks.losses[-1] < 0.5 * hooks.losses[0]
