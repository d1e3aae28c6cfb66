"""A validation file adds valid_loss periodically and full_valid_loss at the last step."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import MARV, run_job

pytestmark = pytest.mark.training


def test_validation_losses_are_reported(tmp_path: Path) -> None:
    result, hooks = run_job(tmp_path, validation_file=MARV, requested={"n_epochs": 2, "batch_size": 2})
    assert result.status == "succeeded"
    with_valid = [m for m in hooks.metrics_log if m.valid_loss is not None]
    assert 5 <= len(with_valid) <= 16 and with_valid[-1].step == result.steps
    first_loss, last_loss = with_valid[0].valid_loss, with_valid[-1].valid_loss
    assert first_loss is not None and last_loss is not None
    assert last_loss < first_loss  # trained on the same examples: it must fall
    assert with_valid[-1].valid_mean_token_accuracy is not None
    full = [m for m in hooks.metrics_log if m.full_valid_loss is not None]
    assert [m.step for m in full] == [result.steps]
    assert full[0].full_valid_mean_token_accuracy is not None
    assert hooks.checkpoints[-1].metrics.full_valid_loss == full[0].full_valid_loss


def test_no_validation_file_no_validation_metrics(tmp_path: Path) -> None:
    _, hooks = run_job(tmp_path, requested={"n_epochs": 1, "batch_size": 4})
    assert all(m.valid_loss is None and m.full_valid_loss is None for m in hooks.metrics_log)
