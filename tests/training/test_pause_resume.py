"""Pausing writes a resumable checkpoint; resuming from it continues exactly where training stopped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from training_support import RecordingHooks, run_job

from runner.server.training import Control
from runner.server.training.checkpoint_io import read_state

pytestmark = pytest.mark.training

QUICK = {"n_epochs": 2, "batch_size": 2}  # 16 examples: 8 steps an epoch, 16 in all


def test_pause_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    straight, straight_hooks = run_job(tmp_path / "straight", requested=QUICK)

    pausing = RecordingHooks(decide=lambda steps: "pause" if steps >= 11 else "continue")
    paused, pausing = run_job(tmp_path / "job", requested=QUICK, hooks=pausing)
    assert paused.status == "paused" and paused.model_dir is None and paused.steps == 11
    assert paused.checkpoint_dir is not None and read_state(paused.checkpoint_dir).step == 11
    # The pause checkpoint is announced like the per-epoch one before it, so the newest checkpoint resumes.
    assert [c.step for c in pausing.checkpoints] == [8, 11]
    assert pausing.checkpoints[-1].path == paused.checkpoint_dir

    resumed, resumed_hooks = run_job(tmp_path / "job", requested=QUICK, resume_from=paused.checkpoint_dir)
    assert resumed.status == "succeeded" and resumed.steps == 16
    assert [m.step for m in resumed_hooks.metrics_log] == list(range(12, 17))
    assert pausing.losses + resumed_hooks.losses == pytest.approx(straight_hooks.losses, rel=1e-5, abs=1e-6)
    assert resumed.trained_tokens == straight.trained_tokens
    assert [c.step for c in resumed_hooks.checkpoints] == [16]


def test_resume_from_an_epoch_checkpoint(tmp_path: Path) -> None:
    first, first_hooks = run_job(tmp_path / "job", requested=QUICK, hooks=RecordingHooks(decide=_cancel_after(9)))
    assert first.status == "cancelled"
    epoch_one = first_hooks.checkpoints[0]
    assert epoch_one.step == 8
    resumed, hooks = run_job(tmp_path / "job", requested=QUICK, resume_from=epoch_one.path)
    assert resumed.status == "succeeded" and hooks.metrics_log[0].step == 9


def _cancel_after(steps: int) -> Callable[[int], Control]:
    return lambda done: "cancel" if done >= steps else "continue"
