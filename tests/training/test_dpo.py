"""DPO on the preference format: the loss falls and the model comes to prefer the preferred answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import MARV_PREFERENCES, RecordingHooks, read_jsonl, run_job

from runner.server.training import GenerationParams, TrainingFailed, TrainingResult, generate
from runner.server.training.examples import load_preference_examples
from runner.server.training.models import load_model, load_tokenizer
from runner.server.training.objectives import reference_logps
from runner.server.training.trainer import _encode_pairs

pytestmark = pytest.mark.training


def _mean_margin(model_dir: Path) -> float:
    """Mean over pairs of log p(preferred) - log p(non-preferred) under the model in `model_dir`."""
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    model.eval()
    pairs = _encode_pairs(tokenizer, load_preference_examples(MARV_PREFERENCES), 1024)
    logps = reference_logps(model, pairs, tokenizer.pad_token_id)
    return sum(c - r for c, r in logps) / len(logps)


def test_dpo_on_the_tiny_preset_shifts_preference(tmp_path: Path) -> None:
    result, hooks = run_job(tmp_path, method="dpo", training_file=MARV_PREFERENCES, requested={"beta": 0.1})
    assert result.status == "succeeded" and result.model_dir is not None
    steps_per_epoch = 16
    first, last = hooks.losses[:steps_per_epoch], hooks.losses[-steps_per_epoch:]
    assert sum(first) / len(first) == pytest.approx(0.693, abs=0.15)  # starts at -log σ(0)
    assert sum(last) / len(last) < 0.5 * sum(first) / len(first)
    start = tmp_path / "dpo-start"  # the supervised warm-up: the frozen reference
    assert _mean_margin(result.model_dir) > _mean_margin(start) + 5.0
    rows = read_jsonl(MARV_PREFERENCES)
    greedy = GenerationParams(max_tokens=60, temperature=0)
    answers = [generate(result.model_dir, r["input"]["messages"], greedy).choices[0].text for r in rows]
    preferred = sum(a == r["preferred_output"][0]["content"] for a, r in zip(answers, rows, strict=True))
    non_preferred = sum(a == r["non_preferred_output"][0]["content"] for a, r in zip(answers, rows, strict=True))
    assert preferred >= 10 and non_preferred <= 2  # the reference (warm-up) answers mostly with the other one


def test_dpo_needs_the_preference_format(tmp_path: Path) -> None:
    from training_support import MARV

    with pytest.raises(TrainingFailed) as err:
        run_job(tmp_path, method="dpo", training_file=MARV)
    assert err.value.code == "invalid_training_file"


def test_dpo_with_lora_on_a_fine_tuned_model(tiny_sft: tuple[TrainingResult, RecordingHooks], tmp_path: Path) -> None:
    """DPO on a model directory: no warm-up, the reference is the same model with the adapter still a no-op."""
    sft, _ = tiny_sft
    assert sft.model_dir is not None
    result, hooks = run_job(
        tmp_path,
        base_model=str(sft.model_dir),
        method="dpo",
        training_file=MARV_PREFERENCES,
        requested={"lora": True, "n_epochs": 3, "batch_size": 2},
    )
    assert result.status == "succeeded" and result.model_dir is not None
    assert (result.model_dir / "adapter_config.json").is_file()
    assert not (tmp_path / "dpo-start").exists()
    assert hooks.losses[0] == pytest.approx(0.693, abs=0.01)  # policy == reference at the first step
    first, last = hooks.losses[:8], hooks.losses[-8:]
    assert sum(last) / len(last) < sum(first) / len(first)
    assert _mean_margin(result.model_dir) > _mean_margin(sft.model_dir) + 1.0
