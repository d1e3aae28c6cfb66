"""Scoring: one sample's checks into pass, fail or error; a suite's samples into the result state keeps. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.evals.assertions import Check
from runner.evals.records import CaseOutcome, EvalResult
from runner.evals.suite import Case, Suite


@dataclass(frozen=True)
class Sample:
    """One answer to one case, and its assertions' checks (`error` when no answer could be had)."""

    answer: str | None
    checks: tuple[Check, ...] = ()
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def errored(self) -> bool:
        return self.error is not None or any(c.error is not None for c in self.checks)

    @property
    def passed(self) -> bool:
        return not self.errored and all(c.passed for c in self.checks)

    @property
    def score(self) -> float | None:
        scores = [c.score for c in self.checks if c.score is not None]
        return sum(scores) / len(scores) if scores else None


def outcome(case: Case, samples: Sequence[Sample]) -> CaseOutcome:
    scores = [s.score for s in samples if s.score is not None]
    return CaseOutcome(
        id=case.id,
        label=case.label,
        samples=len(samples),
        passed=sum(1 for s in samples if s.passed),
        errors=sum(1 for s in samples if s.errored),
        score=round(sum(scores) / len(scores), 4) if scores else None,
    )


def summarize(
    suite: Suite, model: str, samples: Mapping[str, Sequence[Sample]], *, now: int, usd: float | None = None
) -> EvalResult:
    """The suite's result for `model` from every case's samples (by case id).

    A case passes when all its samples pass, fails when one fails, and is an error when one could not be decided
    (counted apart, never as a failure). The pass rate is the share of decided samples that passed."""
    outcomes = tuple(outcome(case, samples.get(case.id, ())) for case in suite.cases)
    decided = sum(o.samples - o.errors for o in outcomes)
    passing = sum(o.passed for o in outcomes)
    scores = [o.score for o in outcomes if o.score is not None]
    every = [s for group in samples.values() for s in group]
    return EvalResult(
        suite=suite.name,
        key=suite.key,
        model=model,
        cases=len(outcomes),
        passed=sum(1 for o in outcomes if o.ok),
        failed=sum(1 for o in outcomes if not o.errors and not o.ok),
        errors=sum(1 for o in outcomes if o.errors),
        pass_rate=round(passing / decided, 4) if decided else None,
        mean_score=round(sum(scores) / len(scores), 4) if scores else None,
        prompt_tokens=sum(s.prompt_tokens for s in every),
        completion_tokens=sum(s.completion_tokens for s in every),
        usd=usd,
        evaluated_at=now,
        outcomes=outcomes,
    )


def unavailable(suite: Suite, model: str, reason: str, *, now: int) -> EvalResult:
    """A result saying the target cannot chat with `model` (a base model it only fine-tunes), so it is not retried."""
    return EvalResult(suite.name, suite.key, model, available=False, reason=reason, evaluated_at=now)
