"""`max_seq_length` and `gradient_checkpointing`: a shorter limit trains fewer tokens; checkpointing recomputes
activations without changing what is learnt."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import run_job

from runner.server.training.hyperparameters import settings
from runner.server.training.model_setup import load_trainable
from runner.server.training.trainer import _prepare

pytestmark = pytest.mark.training

QUICK = {"n_epochs": 1, "batch_size": 4}


def test_max_seq_length_cuts_every_example(tmp_path: Path) -> None:
    whole, _ = run_job(tmp_path / "whole", requested=QUICK)
    cut, _ = run_job(tmp_path / "cut", requested={**QUICK, "max_seq_length": 48})
    assert cut.status == whole.status == "succeeded"
    assert cut.trained_tokens <= 16 * 48 < whole.trained_tokens


def test_gradient_checkpointing_learns_the_same(tmp_path: Path, hf_model_dir: Path) -> None:
    plain, hooks_plain = run_job(tmp_path / "plain", base_model=str(hf_model_dir), requested=QUICK)
    recomputed, hooks_re = run_job(
        tmp_path / "re", base_model=str(hf_model_dir), requested={**QUICK, "gradient_checkpointing": True}
    )
    assert recomputed.status == plain.status == "succeeded"
    assert hooks_re.losses == pytest.approx(hooks_plain.losses, rel=1e-4)
    for lora in (None, settings("supervised", {**QUICK, "lora": True}).lora):
        model, _ = load_trainable(hf_model_dir, lora, None)
        _prepare(model, settings("supervised", {**QUICK, "gradient_checkpointing": True}))
        assert model.is_gradient_checkpointing
