"""Supervised loss: mean cross-entropy over the labelled (assistant) tokens of a batch, with token accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.server.training.batching import Batch
from runner.server.training.encoding import IGNORE


@dataclass
class LossResult:
    loss: Any  # scalar tensor
    correct: int
    counted: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.counted if self.counted else None


def sft_loss(model: Any, batch: Batch) -> LossResult:
    import torch.nn.functional as F

    batch = batch.on(model)
    logits = model(**batch.model_inputs()).logits
    shifted = logits[:, :-1, :]
    targets = batch.labels[:, 1:]
    loss = F.cross_entropy(shifted.reshape(-1, shifted.size(-1)).float(), targets.reshape(-1), ignore_index=IGNORE)
    mask = targets != IGNORE
    correct = int(((shifted.argmax(-1) == targets) & mask).sum())
    return LossResult(loss, correct, int(mask.sum()))
