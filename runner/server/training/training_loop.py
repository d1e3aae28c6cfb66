"""The optimisation loop shared by every method: steps, schedule, metrics, checkpoints, pause and cancel."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from runner.server.training import Checkpoint, Hooks, StepMetrics, TrainingFailed, distributed
from runner.server.training.batching import epoch_batches, steps_per_epoch
from runner.server.training.checkpoint_io import TrainerState, restore_training_state, save_checkpoint
from runner.server.training.objectives import Objective

VALID_BATCH = 8  # examples in the periodic validation estimate
VALID_EVALUATIONS = 10  # periodic validation estimates per job (plus the full one at the end)
MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class LoopConfig:
    n_epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    checkpoint_root: Path | None  # per-epoch and pause checkpoints go here; None: no checkpoints (warm-up runs)


@dataclass(frozen=True)
class LoopOutcome:
    status: Literal["succeeded", "cancelled", "paused"]
    state: TrainerState
    pause_checkpoint: Path | None = None


def warmup_steps(total: int) -> int:
    return max(1, round(total * 0.05))


def make_optimizer(params: list[Any], config: LoopConfig, total_steps: int) -> tuple[Any, Any]:
    """AdamW with a short linear warm-up, then linear decay to zero at the last step."""
    import torch

    options: dict[str, Any] = {"lr": config.learning_rate, "betas": (0.9, 0.999), "weight_decay": 0.0}
    try:  # one fused kernel for every parameter's update (CPU and CUDA), where the parameters' dtype allows it
        optimizer = torch.optim.AdamW(params, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):
        optimizer = torch.optim.AdamW(params, **options)
    warm = warmup_steps(total_steps)

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warm) * max(0.0, (total_steps - step) / total_steps)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def run(
    model: Any,
    tokenizer: Any,
    objective: Objective,
    config: LoopConfig,
    hooks: Hooks,
    state: TrainerState,
    resume_dir: Path | None = None,
) -> LoopOutcome:
    """Train from `state.step` to the end (or until hooks say pause/cancel), updating `state` as it goes.

    Control is asked before every step, before validation and before every checkpoint, so a cancel stops the
    loop within a step (the hooks decide how often they actually look)."""
    import torch

    group = distributed.current()  # several processes: hooks are RankHooks, the same on every rank
    main = group is None or group.rank == 0
    spe = steps_per_epoch(objective.n_train, config.batch_size)
    total = config.n_epochs * spe
    state.steps_per_epoch, state.total_steps = spe, total
    params = [p for p in model.parameters() if p.requires_grad]
    stepping = model
    if group is not None:
        from torch.nn.parallel import DistributedDataParallel

        stepping = DistributedDataParallel(model)
    optimizer, scheduler = make_optimizer(params, config, total)
    if resume_dir is not None:
        restore_training_state(resume_dir, optimizer, scheduler)
    valid_every = max(1, total // VALID_EVALUATIONS)
    valid_sample = list(range(min(VALID_BATCH, objective.n_valid)))
    model.train()
    order_epoch: int = -1
    order: list[list[int]] = []
    last: StepMetrics | None = None
    while state.step < total:
        control = hooks.control()
        if control == "cancel":
            return LoopOutcome("cancelled", state)
        if control == "pause" and config.checkpoint_root is not None:
            path = config.checkpoint_root / f"pause-step-{state.step}"
            if main:
                save_checkpoint(path, model, tokenizer, state, optimizer, scheduler)
            if last is not None:  # also announced, so a server that resumes from its latest checkpoint loses nothing
                hooks.checkpoint(Checkpoint(state.step, state.step // spe, path, last))
            return LoopOutcome("paused", state, path)
        epoch, position = divmod(state.step, spe)
        if epoch != order_epoch:
            order_epoch, order = epoch, epoch_batches(objective.train_lengths, config.batch_size, config.seed, epoch)
        indices = order[position]
        outcome = objective.step(stepping, indices if group is None else group.share(indices))
        loss, tokens, accuracy, scaled = float(outcome.loss.detach()), outcome.tokens, outcome.accuracy, outcome.loss
        if group is not None:  # weigh each part by its share of the batch: the gradients of the batch's mean loss
            weight = outcome.weight
            weights, loss_sum, tokens_f, correct = group.sum(weight, loss * weight, tokens, (accuracy or 0.0) * weight)
            scaled = outcome.loss * (weight * group.world / weights)
            loss, tokens = loss_sum / weights, int(tokens_f)
            accuracy = correct / weights if accuracy is not None else None
        if not math.isfinite(loss):
            raise TrainingFailed(
                "training_diverged",
                f"The training loss became {loss} at step {state.step + 1}; try a lower learning_rate_multiplier.",
                "hyperparameters.learning_rate_multiplier",
            )
        scaled.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.trained_tokens += tokens
        metrics = StepMetrics(state.step, total, loss, accuracy)
        if hooks.control() == "cancel":  # before validation, which may take as long as several steps
            return LoopOutcome("cancelled", state)
        if valid_sample and (state.step % valid_every == 0 or state.step == total):
            loss_v, accuracy_v = _validation(model, objective, valid_sample)
            metrics = replace(metrics, valid_loss=loss_v, valid_mean_token_accuracy=accuracy_v)
        if state.step == total and objective.n_valid:
            loss_v, accuracy_v = _validation(model, objective, list(range(objective.n_valid)))
            metrics = replace(metrics, full_valid_loss=loss_v, full_valid_mean_token_accuracy=accuracy_v)
        hooks.metrics(metrics)
        last = metrics
        if state.step % spe == 0 and config.checkpoint_root is not None:
            if hooks.control() != "continue":
                continue  # a stop asked for during the step: no epoch checkpoint; the loop's top pauses or cancels
            path = config.checkpoint_root / f"step-{state.step}"
            if main:
                save_checkpoint(path, model, tokenizer, state, optimizer, scheduler)
            hooks.checkpoint(Checkpoint(state.step, state.step // spe, path, metrics))
    model.eval()
    if hooks.control() == "cancel":  # cancelled during the last step: the model is not saved
        return LoopOutcome("cancelled", state)
    return LoopOutcome("succeeded", state)


def _validation(model: Any, objective: Objective, indices: list[int]) -> tuple[float, float | None]:
    import torch

    model.eval()
    with torch.no_grad():
        loss, accuracy = objective.evaluate(model, indices)
    model.train()
    return loss, accuracy
