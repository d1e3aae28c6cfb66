"""Direct Preference Optimisation: -log σ(β · ((log π(c) - log ref(c)) - (log π(r) - log ref(r))))."""

from __future__ import annotations

from typing import Any

from runner.server.training.batching import Batch
from runner.server.training.encoding import IGNORE


def sequence_logps(model: Any, batch: Batch) -> Any:
    """Sum of the log-probabilities the model gives each sequence's labelled tokens: a [B] tensor."""
    import torch

    batch = batch.on(model)
    logits = model(**batch.model_inputs()).logits[:, :-1, :].float()
    targets = batch.labels[:, 1:]
    mask = targets != IGNORE
    picked = torch.gather(logits.log_softmax(-1), 2, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)


def dpo_loss(
    policy_chosen: Any, policy_rejected: Any, reference_chosen: Any, reference_rejected: Any, beta: float
) -> tuple[Any, Any]:
    """(mean loss, per-pair margin of the implicit rewards); all inputs are [B] tensors of sequence log-probs."""
    import torch.nn.functional as F

    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).mean(), margin.detach()
