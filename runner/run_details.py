"""What `show`, `logs` and the report know of one run: state's record (its evals and aliases too), and what the
target says of its job.

Gathered once (by `gather`, the one place that asks the provider) and then only read by the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.evals.records import AliasRecord
from runner.evals.standing import ScoredResult, scored
from runner.fingerprint import FieldDiff, diff
from runner.job_status import JobStatus
from runner.metrics import RunMetrics, run_metrics
from runner.remote import Checkpoint, JobEvent, Provider, RemoteJob
from runner.state import ExperimentState, Run


@dataclass(frozen=True)
class RunDetails:
    run: Run
    current: bool
    job: RemoteJob | None = None  # None offline, or when the target no longer has it
    metrics: RunMetrics | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    changes: tuple[FieldDiff, ...] = ()  # training inputs changed since the previous run
    previous: Run | None = None
    events: tuple[JobEvent, ...] = field(default=(), repr=False)
    evals: tuple[ScoredResult, ...] = ()  # its eval results, each beside the base model's on the same suite
    aliases: tuple[tuple[str, AliasRecord], ...] = ()  # the aliases pointing at it

    @property
    def duration_s(self) -> int | None:
        start = self.metrics.started_at if self.metrics and self.metrics.started_at else self.run.created_at
        end = self.run.finished_at or (self.job.finished_at if self.job else None)
        return end - start if end and start and end >= start else None

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """What the target resolved ("auto" filled in), else what the spec asked for."""
        if self.job and self.job.hyperparameters:
            return dict(self.job.hyperparameters)
        method = self.run.inputs.get("method") or {}
        return dict(method.get("hyperparameters") or {}) if isinstance(method, dict) else {}

    @property
    def data_delta(self) -> tuple[int, int] | None:
        """(examples, tokens) added (+) or removed (-) since the previous run, when both are known."""
        p, r = self.previous, self.run
        if p is None or None in (p.examples, r.examples, p.data_tokens, r.data_tokens):
            return None
        return (r.examples or 0) - (p.examples or 0), (r.data_tokens or 0) - (p.data_tokens or 0)


def gather(es: ExperimentState, provider: Provider | None) -> list[RunDetails]:
    """Every run of an experiment, oldest first, with what the target says of it (nothing asked when offline)."""
    out: list[RunDetails] = []
    previous: Run | None = None
    for run in es.runs:
        job, events, checkpoints = None, [], []
        if provider is not None and run.status != JobStatus.GONE:
            job = provider.get_job(run.job_id)
            if job is not None:
                events = provider.events(run.job_id)
                checkpoints = provider.checkpoints(run.job_id)
        out.append(
            RunDetails(
                run=run,
                current=run.job_id == es.current,
                job=job,
                metrics=run_metrics(events) if events else None,
                checkpoints=tuple(checkpoints),
                changes=diff(previous.inputs, run.inputs) if previous else (),
                previous=previous,
                events=tuple(events),
                evals=scored(es, run),
                aliases=es.aliases_of(run.job_id),
            )
        )
        previous = run
    return out
