"""What a plan schedules for evals, purely: which models each suite must still run on, which aliases move (or are
blocked, with the figures), and the comparison table of every experiment that has suites.

The planner (runner.plan) calls `plan_evals` for each desired experiment with its training change and wraps the
steps in `evaluate` and `promote` changes. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runner.evals.gate import Promotion, decide
from runner.evals.records import EvalResult
from runner.evals.suite import Suite
from runner.job_status import JobStatus
from runner.state import ExperimentState, Run


class Role(enum.StrEnum):
    CANDIDATE = "candidate"  # the experiment's current run, or the one this plan trains
    HOLDER = "holder"  # the run the experiment's alias points at now
    BASE = "base"  # the base model it was fine-tuned from


@dataclass(frozen=True)
class Subject:
    role: Role
    job_id: str | None = None  # None for the candidate this plan trains (known after apply), and for the base model
    model: str | None = None


@dataclass(frozen=True)
class EvalStep:
    suite: str
    key: str
    subjects: tuple[Subject, ...]


@dataclass(frozen=True)
class PromoteStep:
    alias: str
    job_id: str | None  # the run the alias moves to; None: the current run once trained and evaluated
    suite: str | None = None  # the gate's suite (None for a pin)
    key: str | None = None
    min_pass_rate: float = 0.0
    no_regression: bool = False
    holder: str | None = None  # the job the alias points at now
    figures: str | None = None  # the gate's verdict, when the plan can already tell
    blocked: bool = False
    pinned: bool = False
    sweep: str | None = None  # `pick: best`: the alias is this sweep's (SWEEP@alias), moved to its best variant
    variant: str | None = None  # ... the variant whose run `job_id` is


@dataclass(frozen=True)
class Flip:
    case: str
    label: str
    was: float | None  # pass rate on the run compared against
    now: float | None


@dataclass(frozen=True)
class Comparison:
    """One row of the eval table: a suite's figures for the base model, the alias holder and the candidate."""

    experiment: str
    suite: str
    key: str
    alias: str | None
    base: EvalResult | None
    holder: EvalResult | None
    holder_job: str | None
    candidate: EvalResult | None
    candidate_job: str | None
    pending: bool  # the candidate is still to be evaluated (by this plan's apply)
    against: str | None  # what Δ and the flips compare with: "holder", "previous" (an earlier run) or None
    reference: EvalResult | None
    flips: tuple[Flip, ...] = ()

    @property
    def delta(self) -> float | None:
        c = self.candidate.pass_rate if self.candidate and self.candidate.available else None
        r = self.reference.pass_rate if self.reference and self.reference.available else None
        return round(c - r, 4) if c is not None and r is not None else None


@dataclass(frozen=True)
class EvalPlan:
    evaluate: tuple[EvalStep, ...] = ()
    promote: PromoteStep | None = None
    comparisons: tuple[Comparison, ...] = ()
    problems: tuple[str, ...] = ()  # what the spec asks that cannot be done (a pin to an unknown job)


_SETTLED_BADLY = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.GONE)  # no model to score


def _usable(run: Run | None) -> bool:
    return run is not None and JobStatus.of(run.status) is JobStatus.SUCCEEDED and bool(run.fine_tuned_model)


def flips(reference: EvalResult | None, candidate: EvalResult | None) -> tuple[Flip, ...]:
    if reference is None or candidate is None or not reference.available or not candidate.available:
        return ()
    before = {o.id: o for o in reference.outcomes}
    found = []
    for o in candidate.outcomes:
        old = before.get(o.id)
        if old is not None and old.ok != o.ok and not old.errors and not o.errors:
            found.append(Flip(o.id, o.label, old.pass_rate, o.pass_rate))
    return tuple(sorted(found, key=lambda f: (not (f.was or 0) > (f.now or 0), f.label)))  # pass -> fail first


def reference_of(key: str, holder: EvalResult | None, earlier: Sequence[Run]) -> tuple[EvalResult | None, str | None]:
    """What Δ and the flips compare a candidate's result with: the alias holder's result on the suite, else the newest
    of the earlier runs' (oldest first), with which of the two it is."""
    if holder is not None:
        return holder, "holder"
    found = [e for e in (r.eval_result(key) for r in earlier) if e is not None]
    return (found[-1], "previous") if found else (None, None)


def plan_evals(
    experiment: str,
    base_model: str,
    suites: Sequence[Suite],
    promote: Promotion | None,
    es: ExperimentState | None,
    candidate: Run | None,
    *,
    trains: bool,
) -> EvalPlan:
    """The eval steps of one experiment. `candidate` is the run to score (its current run, or an earlier run the plan
    makes current again); `trains` says the plan creates a new job, whose model is scored once it has one."""
    holder_job = es.aliases[promote.alias].job_id if es and promote and promote.alias in es.aliases else None
    holder = es.run(holder_job) if es else None
    cand_job = None if trains else (candidate.job_id if candidate else None)
    # A job still training is evaluated when it succeeds (by `apply --wait`, or the plan after): nothing to do yet.
    training = not trains and candidate is not None and JobStatus.of(candidate.status).is_active
    scorable = trains or (
        candidate is not None and not training and JobStatus.of(candidate.status) not in _SETTLED_BADLY
    )
    steps: list[EvalStep] = []
    rows: list[Comparison] = []
    for suite in suites:
        key = suite.key
        cand_result = candidate.eval_result(key) if candidate is not None and not trains else None
        holder_result = holder.eval_result(key) if holder is not None else None
        base_result = es.baseline(key, base_model) if es else None
        subjects = []
        if scorable and cand_result is None:
            subjects.append(Subject(Role.CANDIDATE, cand_job))
        if holder is not None and holder.job_id != cand_job and holder_result is None and _usable(holder):
            subjects.append(Subject(Role.HOLDER, holder.job_id, holder.fine_tuned_model))
        if base_result is None and scorable:
            subjects.append(Subject(Role.BASE, None, base_model))
        if subjects:
            steps.append(EvalStep(suite.name, key, tuple(subjects)))
        # Δ and the flips compare with the alias holder, or (when it is the candidate, or nobody) an earlier run.
        compared = holder_result if holder_job is None or holder_job != cand_job else None
        earlier = [
            r
            for r in (es.runs if es else ())
            if r.job_id != cand_job and (trains or candidate is None or r.created_at < candidate.created_at)
        ]
        reference, against = reference_of(key, compared, earlier)
        rows.append(
            Comparison(
                experiment=experiment,
                suite=suite.name,
                key=key,
                alias=promote.alias if promote else None,
                base=base_result,
                holder=holder_result,
                holder_job=holder_job,
                candidate=cand_result,
                candidate_job=cand_job,
                pending=(scorable or training) and cand_result is None,
                against=against,
                reference=reference,
                flips=flips(reference, cand_result),
            )
        )
    step, problems = _promotion(promote, es, holder, candidate, cand_job, trains, scorable, suites)
    return EvalPlan(tuple(steps), step, tuple(rows), problems)


def _promotion(
    rule: Promotion | None,
    es: ExperimentState | None,
    holder: Run | None,
    candidate: Run | None,
    cand_job: str | None,
    trains: bool,
    scorable: bool,
    suites: Sequence[Suite],
) -> tuple[PromoteStep | None, tuple[str, ...]]:
    if rule is None:
        return None, ()
    holder_job = holder.job_id if holder else None
    if rule.pin is not None:
        if es is None or es.run(rule.pin) is None:
            known = ", ".join(r.job_id for r in es.runs) if es else "none"
            return None, (f"`promote.pin` names job {rule.pin}, which is no run of this experiment (runs: {known})",)
        if holder_job == rule.pin:
            return None, ()
        return PromoteStep(rule.alias, rule.pin, holder=holder_job, pinned=True), ()
    if not scorable or (not trains and cand_job is not None and cand_job == holder_job):
        return None, ()
    suite = next((s for s in suites if s.name == rule.suite), None)
    if suite is None:  # the gate's suite did not load: its errors are reported where it is read
        return None, ()
    step = PromoteStep(
        rule.alias,
        cand_job,
        suite=suite.name,
        key=suite.key,
        min_pass_rate=rule.min_pass_rate,
        no_regression=rule.no_regression,
        holder=holder_job,
    )
    cand_result = candidate.eval_result(suite.key) if candidate is not None and not trains else None
    holder_result = holder.eval_result(suite.key) if holder is not None else None
    decidable = cand_result is not None and (holder is None or holder_result is not None or not _usable(holder))
    if not decidable:
        return step, ()  # decided by apply, once the evals it waits for have run
    verdict = decide(rule, cand_result, holder_result)
    return replace(step, figures=verdict.figures, blocked=not verdict.passed), ()
