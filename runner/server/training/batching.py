"""Turning encoded examples into tensors, and the epoch order of a seeded run.

Two layouts. *Padded*: one row per example, padded to the batch's longest, with an attention mask. *Packed*: the
examples laid end to end in as few rows as fit `PACK_ROW_TOKENS` (or the longest example, if longer), with no
attention mask and position ids that restart at 0 for each example; transformers then keeps examples apart (a
block-diagonal causal mask for sdpa/eager, per-sequence lengths for flash attention), so a packed batch computes the
same loss as a padded one without computing padding. Whether a model honours that is checked once per job (see
`packing`). The first token of each packed example is never a target (as in the padded layout), so no example
learns from the one before it.

The order: a length-grouped shuffle (`epoch_batches`). Examples are shuffled, cut into buckets of
`BUCKET_BATCHES` batches, sorted by length within each bucket and batched there, and the batches shuffled again,
so a batch holds examples of similar length (little padding when padded) yet every epoch sees a new, seeded order
that depends only on (seed, epoch): resuming is exact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.server.training.encoding import IGNORE, Encoded

BUCKET_BATCHES = 8  # batches per length bucket: larger means less padding, less randomness in who shares a batch
PACK_ROW_TOKENS = 4096  # the most tokens laid end to end in one packed row (attention masks grow with its square)


@dataclass
class Batch:
    input_ids: Any  # LongTensor [rows, T]
    attention_mask: Any  # LongTensor [rows, T], or None when packed
    labels: Any
    tokens: int  # real (non-pad) tokens in the batch
    position_ids: Any = None  # LongTensor [rows, T] when packed: restarting at 0 for each example

    def on(self, model: Any) -> Batch:
        """The same batch on the model's device (a DDP-wrapped model's too)."""
        device = next(model.parameters()).device

        def to(t: Any) -> Any:
            return None if t is None else t.to(device)

        return Batch(to(self.input_ids), to(self.attention_mask), to(self.labels), self.tokens, to(self.position_ids))

    def model_inputs(self) -> dict[str, Any]:
        """Keyword arguments for the model's forward pass (no cache: a cache would hide the packed layout)."""
        if self.position_ids is None:
            return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        return {"input_ids": self.input_ids, "position_ids": self.position_ids, "use_cache": False}

    @property
    def computed_tokens(self) -> int:
        """Token positions the model computes, padding included."""
        return int(self.input_ids.numel())


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


def pack_rows(lengths: Sequence[int], row_tokens: int = PACK_ROW_TOKENS) -> list[list[int]]:
    """Positions in `lengths` grouped into rows of at most max(row_tokens, longest) tokens: first fit, longest
    first."""
    width = max(row_tokens, max(lengths, default=0))
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        fit = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if fit is None:
            rows.append([i])
            room.append(width - lengths[i])
        else:
            rows[fit].append(i)
            room[fit] -= lengths[i]
    return rows


def collate_packed(encoded: Sequence[Encoded], pad_id: int, row_tokens: int = PACK_ROW_TOKENS) -> Batch:
    import torch

    rows = pack_rows([len(e.input_ids) for e in encoded], row_tokens)
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    positions: list[list[int]] = []
    for row in rows:
        row_ids: list[int] = []
        row_labels: list[int] = []
        row_positions: list[int] = []
        for i in row:
            e = encoded[i]
            row_ids += e.input_ids
            row_labels += [IGNORE] + e.labels[1:]
            row_positions += list(range(len(e.input_ids)))
        ids.append(row_ids)
        labels.append(row_labels)
        positions.append(row_positions)
    width = max(len(r) for r in ids)
    for row_ids, row_labels, row_positions in zip(ids, labels, positions, strict=True):
        fill = width - len(row_ids)  # only when several rows: the filler is a sequence of its own, never a target
        row_ids += [pad_id] * fill
        row_labels += [IGNORE] * fill
        row_positions += list(range(fill))
    return Batch(
        input_ids=torch.tensor(ids, dtype=torch.long),
        attention_mask=None,
        labels=torch.tensor(labels, dtype=torch.long),
        tokens=sum(len(e.input_ids) for e in encoded),
        position_ids=torch.tensor(positions, dtype=torch.long),
    )


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indices per step of `epoch`, grouped by length; depends only on (lengths, seed, epoch)."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        by_length = sorted(order[start : start + bucket], key=lambda i: lengths[i])
        batches += [by_length[i : i + batch_size] for i in range(0, len(by_length), batch_size)]
    rng.shuffle(batches)
    return batches


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return -(-n_examples // batch_size)
