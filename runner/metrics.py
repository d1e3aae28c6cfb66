"""What a job's events say about its training: the loss curve, final and best losses, and when it ran.

A pure reading of `fine_tuning.job.event`s (metrics events carry `step`, `train_loss`, `valid_loss`,
`total_steps`); the views draw and word it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.remote import JobEvent


@dataclass(frozen=True)
class Point:
    step: int
    train_loss: float | None
    valid_loss: float | None


@dataclass(frozen=True)
class RunMetrics:
    points: tuple[Point, ...]
    total_steps: int | None
    started_at: int | None  # when training began ("Fine-tuning job started", or the first metrics)

    def _series(self, valid: bool) -> list[float]:
        return [v for p in self.points if (v := (p.valid_loss if valid else p.train_loss)) is not None]

    @property
    def train(self) -> list[float]:
        return self._series(False)

    @property
    def valid(self) -> list[float]:
        return self._series(True)

    @property
    def final_train_loss(self) -> float | None:
        return self.train[-1] if self.train else None

    @property
    def best_train_loss(self) -> float | None:
        return min(self.train, default=None)

    @property
    def final_valid_loss(self) -> float | None:
        return self.valid[-1] if self.valid else None

    @property
    def best_valid_loss(self) -> float | None:
        return min(self.valid, default=None)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_metrics(events: Sequence[JobEvent]) -> RunMetrics:
    """The metrics of one job from its events (oldest first); a step reported twice keeps its last figures."""
    by_step: dict[int, Point] = {}
    total: int | None = None
    started: int | None = None
    for e in events:
        if started is None and e.type == "message" and "job started" in e.message.lower():
            started = e.created_at
        if e.type != "metrics":
            continue
        step = e.data.get("step")
        if not isinstance(step, int):
            continue
        if started is None:
            started = e.created_at
        total = e.data.get("total_steps") if isinstance(e.data.get("total_steps"), int) else total
        by_step[step] = Point(step, _number(e.data.get("train_loss")), _number(e.data.get("valid_loss")))
    return RunMetrics(tuple(by_step[s] for s in sorted(by_step)), total, started)
