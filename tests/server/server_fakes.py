"""Fakes at the server's ports to the trainer package: a trainer, a hyperparameter resolver and a generator.

Also usable by a worker subprocess (`--trainer-module server_fakes` with this folder on PYTHONPATH)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.server.training import (
    ChatStream,
    Checkpoint,
    Completion,
    Generation,
    GenerationParams,
    Hooks,
    StepMetrics,
    StreamPiece,
    TrainingFailed,
    TrainingRequest,
    TrainingResult,
)

STEPS_PER_EPOCH = 3
SEED_TRAINING_FAILED = 13
SEED_CRASH = 666
STEP_SECONDS_ENV = "FTRUN_FAKE_STEP_SECONDS"

DEFAULTS = {"batch_size": 1, "learning_rate_multiplier": 1.0, "n_epochs": 2, "beta": 0.1}


def resolve_hyperparameters(
    base_model: str, method: str, requested: Mapping[str, Any], n_examples: int
) -> dict[str, Any]:
    return {k: DEFAULTS[k] if v == "auto" else v for k, v in requested.items()}


def _checkpoint(request: TrainingRequest, hooks: Hooks, step: int, metrics: StepMetrics) -> Path:
    path = request.work_dir / f"checkpoint-{step}"
    path.mkdir(parents=True, exist_ok=True)
    (path / "step").write_text(str(step))
    hooks.checkpoint(Checkpoint(step=step, epoch=step // STEPS_PER_EPOCH, path=path, metrics=metrics))
    return path


def train(request: TrainingRequest, hooks: Hooks) -> TrainingResult:
    if request.seed == SEED_TRAINING_FAILED:
        raise TrainingFailed("model_not_found", "The base model cannot be loaded.", "model")
    if request.seed == SEED_CRASH:
        raise RuntimeError("the fake trainer crashed")
    delay = float(os.environ.get(STEP_SECONDS_ENV, "0"))
    total = int(request.hyperparameters["n_epochs"]) * STEPS_PER_EPOCH
    start = int((request.resume_from / "step").read_text()) if request.resume_from else 0
    if start:
        hooks.message("info", f"fake trainer resumed at step {start}")
    metrics = StepMetrics(step=start, total_steps=total, train_loss=1.0)
    for step in range(start + 1, total + 1):
        match hooks.control():
            case "cancel":
                return TrainingResult("cancelled", None, trained_tokens=0, steps=step - 1)
            case "pause":  # like the real trainer: a checkpoint to resume from, announced (and refused: paused)
                path = _checkpoint(request, hooks, step - 1, metrics)
                return TrainingResult("paused", None, trained_tokens=0, steps=step - 1, checkpoint_dir=path)
        time.sleep(delay)
        validated = request.validation_file is not None
        metrics = StepMetrics(
            step=step,
            total_steps=total,
            train_loss=1.0 / step,
            train_mean_token_accuracy=0.5,
            valid_loss=2.0 / step if validated else None,
            valid_mean_token_accuracy=0.25 if validated else None,
        )
        hooks.metrics(metrics)
        if step % STEPS_PER_EPOCH == 0:
            _checkpoint(request, hooks, step, metrics)
    final = request.work_dir / "final"
    final.mkdir(parents=True, exist_ok=True)
    (final / "model").write_text(request.job_id)
    return TrainingResult("succeeded", final, trained_tokens=100 * total, steps=total)


class FakeGenerator:
    """Echoes the last user message; remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, list[dict[str, Any]], GenerationParams]] = []
        self.closed = 0

    def __call__(self, model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> Completion:
        self.calls.append((model_dir, [dict(m) for m in messages], params))
        text = f"echo: {messages[-1]['content']}"
        return Completion(
            choices=[Generation(text, "stop") for _ in range(params.n)],
            prompt_tokens=sum(len(str(m.get("content", "")).split()) for m in messages),
            completion_tokens=len(text.split()),
        )

    def stream(self, model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> ChatStream:
        """The same answer word by word (each choice in turn); `closed` counts streams released."""
        whole = self(model_dir, messages, params)
        words = whole.choices[0].text.split(" ")

        def pieces() -> Iterator[StreamPiece]:
            for index in range(params.n):
                for i, word in enumerate(words):
                    yield StreamPiece(index, word if i == 0 else " " + word)
                yield StreamPiece(index, "", "stop", len(words))

        return ChatStream(whole.prompt_tokens, pieces(), self._released)

    def _released(self) -> None:
        self.closed += 1
