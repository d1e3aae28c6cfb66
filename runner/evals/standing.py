"""Where an experiment's evals stand in state, for `status` and `show`: the current run's newest result per suite,
the aliases and the runs they point at, and the eval table rows of what is recorded (no spec is read). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from runner.evals.planning import Comparison, flips, reference_of
from runner.evals.records import AliasRecord, EvalResult
from runner.state import ExperimentState, Run


@dataclass(frozen=True)
class ScoredResult:
    """A run's result on one suite, with the base model's result on the same suite when there is one."""

    result: EvalResult
    baseline: EvalResult | None


@dataclass(frozen=True)
class Standing:
    experiment: str
    results: tuple[EvalResult, ...]  # the current run's newest result on each suite
    aliases: tuple[tuple[str, AliasRecord], ...]  # every alias of the experiment, by name
    comparisons: tuple[Comparison, ...]

    @property
    def pass_rates(self) -> dict[str, float | None]:
        """Suite -> the current run's pass rate (None where the target could not score it)."""
        return {r.suite: r.pass_rate if r.available else None for r in self.results}

    @property
    def any(self) -> bool:
        return bool(self.results or self.aliases)


def _baseline(es: ExperimentState, run: Run, key: str) -> EvalResult | None:
    """The base model's result on the suite: the model the run was trained from, else whichever was scored."""
    model = run.inputs.get("model")
    return (es.baseline(key, str(model)) if model else None) or es.baseline(key, None)


def scored(es: ExperimentState, run: Run) -> tuple[ScoredResult, ...]:
    """Every result of `run`, by suite then time, each beside the base model's on the same suite."""
    return tuple(
        ScoredResult(r, _baseline(es, run, r.key)) for r in sorted(run.evals, key=lambda e: (e.suite, e.evaluated_at))
    )


def standing(es: ExperimentState) -> Standing:
    """The current run against the alias holder (the first alias by name), or an earlier run on the same suite
    when the alias holds the current run or there is none."""
    current = es.current_run
    results = current.latest_evals if current is not None else ()
    aliases = tuple(sorted(es.aliases.items()))
    alias, record = aliases[0] if aliases else (None, None)
    holder = es.run(record.job_id) if record is not None else None
    rows = []
    for r in results:
        assert current is not None  # results come from it
        holder_result = holder.eval_result(r.key) if holder is not None else None
        other = holder is not None and holder.job_id != current.job_id
        earlier = [x for x in es.runs if x.created_at < current.created_at]
        reference, against = reference_of(r.key, holder_result if other else None, earlier)
        rows.append(
            Comparison(
                experiment=es.name,
                suite=r.suite,
                key=r.key,
                alias=alias,
                base=_baseline(es, current, r.key),
                holder=holder_result,
                holder_job=holder.job_id if holder is not None else None,
                candidate=r,
                candidate_job=current.job_id,
                pending=False,
                against=against,
                reference=reference,
                flips=flips(reference, r),
            )
        )
    return Standing(es.name, results, aliases, tuple(rows))
