"""Padding encoded examples into tensors, and the epoch order of a seeded run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.server.training.encoding import IGNORE, Encoded


@dataclass
class Batch:
    input_ids: Any  # LongTensor [B, T]
    attention_mask: Any
    labels: Any
    tokens: int  # real (non-pad) tokens in the batch

    def on(self, model: Any) -> Batch:
        """The same batch on the model's device."""
        device = model.device
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device), self.tokens)


def collate(encoded: Sequence[Encoded], pad_id: int) -> Batch:
    import torch

    width = max(len(e.input_ids) for e in encoded)
    ids = [e.input_ids + [pad_id] * (width - len(e.input_ids)) for e in encoded]
    labels = [e.labels + [IGNORE] * (width - len(e.labels)) for e in encoded]
    mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in encoded]
    return Batch(
        input_ids=torch.tensor(ids, dtype=torch.long),
        attention_mask=torch.tensor(mask, dtype=torch.long),
        labels=torch.tensor(labels, dtype=torch.long),
        tokens=sum(len(e.input_ids) for e in encoded),
    )


def epoch_batches(n_examples: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indices per step of `epoch`: a shuffle that depends only on (seed, epoch), so resuming is exact."""
    order = list(range(n_examples))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n_examples, batch_size)]


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return -(-n_examples // batch_size)
