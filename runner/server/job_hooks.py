"""The hooks the worker hands to the trainer: stop signals from the store, metrics events, checkpoint records."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from runner.job_status import JobStatus
from runner.server import ids
from runner.server.datadir import DataDir
from runner.server.store import Store, now
from runner.server.training import Checkpoint, Control, StepMetrics

KEEP_CHECKPOINTS = 3
CONTROL_POLL_SECONDS = 0.25

# Any other status (cancelled, failed, queued again, the job gone) stops the run without a checkpoint.
_CONTROL_FOR_STATUS: dict[str | None, Control] = {
    JobStatus.RUNNING: "continue",
    JobStatus.PAUSED: "pause",
}


def metrics_data(m: StepMetrics) -> dict[str, Any]:
    return {
        "step": m.step,
        "train_loss": m.train_loss,
        "valid_loss": m.valid_loss,
        "total_steps": m.total_steps,
        "full_valid_loss": m.full_valid_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "full_valid_mean_token_accuracy": m.full_valid_mean_token_accuracy,
    }


def metrics_message(m: StepMetrics) -> str:
    text = f"Step {m.step}/{m.total_steps}: training loss={m.train_loss:.2f}"
    if m.valid_loss is not None:
        text += f", validation loss={m.valid_loss:.2f}"
    if m.full_valid_loss is not None:
        text += f", full validation loss={m.full_valid_loss:.2f}"
    return text


def checkpoint_metrics(m: StepMetrics) -> dict[str, float]:
    values = {
        "step": float(m.step),
        "train_loss": m.train_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "full_valid_loss": m.full_valid_loss,
        "full_valid_mean_token_accuracy": m.full_valid_mean_token_accuracy,
    }
    return {k: float(v) for k, v in values.items() if v is not None}


class JobHooks:
    """`training.Hooks` for one job. `control` reads the job's status at most every `poll_seconds`.

    The store records metrics, checkpoints and messages only while the job is running; a refused write means the
    job was cancelled or paused meanwhile, so the next `control` says so at once instead of at the next poll."""

    def __init__(
        self,
        store: Store,
        data: DataDir,
        job_id: str,
        model_prefix: str,
        *,
        poll_seconds: float = CONTROL_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        stopping: threading.Event | None = None,
    ) -> None:
        self._store = store
        self._data = data
        self._job_id = job_id
        self._model_prefix = model_prefix  # "ft:{base}:{org}:{suffix}"
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._last_poll = -float("inf")
        self._last_control: Control = "continue"
        self._stopping = stopping or threading.Event()  # set: the worker is stopping; record nothing more

    def control(self) -> Control:
        if self._stopping.is_set():
            return "cancel"
        t = self._clock()
        if t - self._last_poll >= self._poll_seconds:
            self._read_control(t)
        return self._last_control

    def _read_control(self, t: float) -> None:
        self._last_poll = t
        self._last_control = _CONTROL_FOR_STATUS.get(self._store.job_status(self._job_id), "cancel")

    def _written(self, written: bool) -> None:
        if not written:
            self._read_control(self._clock())

    def metrics(self, m: StepMetrics) -> None:
        if self._stopping.is_set():
            return
        self._written(
            self._store.add_training_event(self._job_id, metrics_message(m), type_="metrics", data=metrics_data(m))
        )

    def checkpoint(self, c: Checkpoint) -> None:
        if self._stopping.is_set():
            return
        model = f"{self._model_prefix}:{ids.model_tag()}:ckpt-step-{c.step}"
        dropped = self._store.add_checkpoint(
            {
                "id": ids.checkpoint_id(),
                "job_id": self._job_id,
                "created_at": now(),
                "step": c.step,
                "epoch": c.epoch,
                "model": model,
                "path": str(c.path),
                "metrics": checkpoint_metrics(c.metrics),
            },
            keep=KEEP_CHECKPOINTS,
            message=f"Checkpoint created at step {c.step} with Snapshot ID: {model}",
        )
        if dropped is None:  # not running any more: a pause keeps this directory as its resume point
            self._written(False)
            return
        job_dir = self._data.job_dir(self._job_id).resolve()
        for row in dropped:
            path = self._data.root / row["path"]
            if path.resolve().is_relative_to(job_dir) and path.resolve() != job_dir:
                shutil.rmtree(path, ignore_errors=True)

    def message(self, level: Literal["info", "warn", "error"], text: str) -> None:
        if not self._stopping.is_set():
            self._written(self._store.add_training_event(self._job_id, text, level=level))
