"""What one training step optimises: supervised cross-entropy or the DPO loss, over example indices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runner.server.training.batching import Batch, collate, collate_packed
from runner.server.training.dpo_loss import dpo_loss, sequence_logps
from runner.server.training.encoding import Encoded
from runner.server.training.sft_loss import sft_loss


@dataclass
class StepOutcome:
    loss: Any  # scalar tensor with a graph (training) or without (evaluation)
    accuracy: float | None
    tokens: int
    weight: int  # what the loss is a mean over (labelled tokens, or pairs): weights it against other processes' parts


class Objective(Protocol):
    n_train: int
    n_valid: int
    train_lengths: list[int]  # tokens per training example (per pair: its longer sequence), for length grouping

    def step(self, model: Any, indices: Sequence[int]) -> StepOutcome: ...

    def evaluate(self, model: Any, indices: Sequence[int]) -> tuple[float, float | None]: ...


class SupervisedObjective:
    """Mean cross-entropy over a batch's labelled tokens; `pack` lays the batch's examples end to end (see
    `batching`), which only changes what is computed, not the loss."""

    def __init__(self, train: Sequence[Encoded], valid: Sequence[Encoded], pad_id: int, pack: bool = False) -> None:
        self.train, self.valid, self.pad_id, self.pack = list(train), list(valid), pad_id, pack
        self.n_train, self.n_valid = len(self.train), len(self.valid)
        self.train_lengths = [len(e.input_ids) for e in self.train]

    def batch(self, examples: Sequence[Encoded]) -> Batch:
        return collate_packed(examples, self.pad_id) if self.pack else collate(examples, self.pad_id)

    def step(self, model: Any, indices: Sequence[int]) -> StepOutcome:
        batch = self.batch([self.train[i] for i in indices])
        result = sft_loss(model, batch)
        return StepOutcome(result.loss, result.accuracy, batch.tokens, result.counted)

    def evaluate(self, model: Any, indices: Sequence[int], chunk: int = 8) -> tuple[float, float | None]:
        """Token-weighted loss and accuracy over the validation examples at `indices`."""
        total_loss, correct, counted = 0.0, 0, 0
        for start in range(0, len(indices), chunk):
            batch = self.batch([self.valid[i] for i in indices[start : start + chunk]])
            result = sft_loss(model, batch)
            total_loss += float(result.loss) * result.counted
            correct, counted = correct + result.correct, counted + result.counted
        if not counted:
            return 0.0, None
        return total_loss / counted, correct / counted


@dataclass(frozen=True)
class EncodedPair:
    chosen: Encoded
    rejected: Encoded


class PreferenceObjective:
    """DPO against reference log-probs computed once, before training, from the frozen starting model."""

    def __init__(
        self,
        train: Sequence[EncodedPair],
        valid: Sequence[EncodedPair],
        reference: Sequence[Sequence[float]],
        valid_reference: Sequence[Sequence[float]],
        beta: float,
        pad_id: int,
    ) -> None:
        self.train, self.valid = list(train), list(valid)
        self.reference, self.valid_reference = list(reference), list(valid_reference)
        self.beta, self.pad_id = beta, pad_id
        self.n_train, self.n_valid = len(self.train), len(self.valid)
        self.train_lengths = [max(len(p.chosen.input_ids), len(p.rejected.input_ids)) for p in self.train]

    def _loss(
        self, model: Any, pairs: Sequence[EncodedPair], reference: Sequence[Sequence[float]]
    ) -> tuple[Any, Any, int]:
        import torch

        # Chosen and rejected sequences go through the model as one batch.
        batch = collate([p.chosen for p in pairs] + [p.rejected for p in pairs], self.pad_id)
        logps = sequence_logps(model, batch)
        n = len(pairs)
        ref = torch.tensor([list(r) for r in reference], dtype=logps.dtype, device=logps.device)
        loss, margin = dpo_loss(logps[:n], logps[n:], ref[:, 0], ref[:, 1], self.beta)
        return loss, margin, batch.tokens

    def step(self, model: Any, indices: Sequence[int]) -> StepOutcome:
        loss, margin, tokens = self._loss(model, [self.train[i] for i in indices], [self.reference[i] for i in indices])
        return StepOutcome(loss, None, tokens, len(indices))

    def evaluate(self, model: Any, indices: Sequence[int], chunk: int = 8) -> tuple[float, float | None]:
        total = 0.0
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            loss, _, _ = self._loss(model, [self.valid[i] for i in part], [self.valid_reference[i] for i in part])
            total += float(loss) * len(part)
        return (total / len(indices) if len(indices) else 0.0), None


def reference_logps(model: Any, pairs: Sequence[EncodedPair], pad_id: int, chunk: int = 8) -> list[list[float]]:
    """[chosen, rejected] sequence log-probs of each pair under `model` (no gradients)."""
    import torch

    out: list[list[float]] = []
    with torch.no_grad():
        for start in range(0, len(pairs), chunk):
            part = pairs[start : start + chunk]
            logps = sequence_logps(model, collate([p.chosen for p in part] + [p.rejected for p in part], pad_id))
            n = len(part)
            out += [[float(logps[i]), float(logps[n + i])] for i in range(n)]
    return out
