"""What `ftrun report` shows, gathered once: per experiment its runs (with their loss curves), its data, its cost
and its eval results. The views (runner.views.report_html, runner.views.loss_charts) only draw it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from runner.datasets import Dataset
from runner.desired import Desired
from runner.remote import Provider
from runner.run_details import RunDetails, gather
from runner.state import Run, State


@dataclass(frozen=True)
class EvalTable:
    """Eval results of one experiment as a table (one row per run and suite); filled in by the evals."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    description: str | None
    runs: tuple[RunDetails, ...]  # oldest first
    training: Dataset | None  # the data the spec names now (None when the spec is gone or did not load)
    validation: Dataset | None
    costs: Mapping[str, float | None] = field(default_factory=dict)  # job id -> what its trained tokens cost
    evals: EvalTable | None = None

    @property
    def latest(self) -> RunDetails | None:
        current = [d for d in self.runs if d.current]
        return current[0] if current else (self.runs[-1] if self.runs else None)

    @property
    def has_losses(self) -> bool:
        return any(d.metrics is not None and (d.metrics.train or d.metrics.valid) for d in self.runs)


@dataclass(frozen=True)
class Report:
    workspace: str
    target: str
    generated_at: int
    experiments: tuple[ExperimentReport, ...]

    @property
    def total_cost(self) -> float | None:
        costs = [c for e in self.experiments for c in e.costs.values()]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def gather_report(
    workspace: str,
    target: str,
    state: State,
    desired: Sequence[Desired],
    provider: Provider | None,
    cost: Callable[[Run], float | None],
    *,
    names: Sequence[str] = (),
    now: int,
    evals: Mapping[str, EvalTable] | None = None,
) -> Report:
    """Every experiment in state or in the specs (or only `names`), sorted by name; the target is asked for each
    run's events and checkpoints unless `provider` is None (offline)."""
    by_name = {d.experiment.name: d for d in desired}
    wanted = sorted(set(names) if names else set(state.experiments) | set(by_name))
    experiments = []
    for name in wanted:
        es = state.experiments.get(name)
        d = by_name.get(name)
        runs = tuple(gather(es, provider)) if es else ()
        description = (d.experiment.description if d else None) or (
            str(es.metadata.get("description")) if es and es.metadata.get("description") else None
        )
        experiments.append(
            ExperimentReport(
                name=name,
                description=description,
                runs=runs,
                training=d.training if d else None,
                validation=d.validation if d else None,
                costs={r.run.job_id: cost(r.run) for r in runs},
                evals=(evals or {}).get(name),
            )
        )
    return Report(workspace, target, now, tuple(experiments))
