"""A job trained on two processes (torch.distributed.run, DDP over gloo on the CPU) follows the one-process run."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import RecordingHooks, run_job

from runner.server.training.distributed import PROCESSES_ENV
from runner.server.training.runtime import DEVICE_ENV

pytestmark = [pytest.mark.slow, pytest.mark.training]

QUICK = {"n_epochs": 2, "batch_size": 4}  # 16 examples: 4 steps an epoch, the same global batch in both runs
# Each process packs and sums its half of every batch in its own order: float32 rounding only.
LOSS_TOLERANCE = 1e-3


def test_two_processes_give_the_loss_curve_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, one_hooks = run_job(tmp_path / "one", requested=QUICK)
    monkeypatch.setenv(PROCESSES_ENV, "2")
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    two, two_hooks = run_job(tmp_path / "two", requested=QUICK)
    assert ("info", "Training on 2 processes") in two_hooks.messages
    assert two.status == "succeeded" and two.model_dir is not None and (two.model_dir / "config.json").is_file()
    assert [m.step for m in two_hooks.metrics_log] == list(range(1, 9))
    assert two_hooks.losses == pytest.approx(one_hooks.losses, rel=LOSS_TOLERANCE)
    assert two_hooks.losses[-1] < two_hooks.losses[0]
    assert two.trained_tokens == one.trained_tokens
    assert [(c.step, c.epoch) for c in two_hooks.checkpoints] == [(4, 1), (8, 2)]
    assert all(c.path.is_dir() for c in two_hooks.checkpoints)


def test_a_cancel_reaches_every_process_within_a_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESSES_ENV, "2")
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    hooks = RecordingHooks(decide=lambda steps: "cancel" if steps >= 2 else "continue")
    result, hooks = run_job(tmp_path, requested={"n_epochs": 3, "batch_size": 2}, hooks=hooks)
    assert result.status == "cancelled" and result.model_dir is None
    assert 2 <= result.steps < 24  # the word reaches the processes within a poll of the job's thread (0.2 s)
    assert len(hooks.metrics_log) in (result.steps - 1, result.steps)  # a step cancelled at its end reports nothing
    assert not (tmp_path / "model").exists()
