"""Promotion: an experiment's rule for moving an alias (`promote:`), and the gate that decides it, purely."""

from __future__ import annotations

from dataclasses import dataclass

from runner.evals.records import EvalResult


@dataclass(frozen=True)
class Promotion:
    """`promote: {alias: prod, when: {suite: s, min_pass_rate: 0.8, no_regression: true}}`, or `pin: <job id>`;
    on a spec with a matrix, `pick: best` makes the alias the sweep's, moved to its best variant that passes."""

    alias: str
    suite: str | None = None
    min_pass_rate: float = 0.0
    no_regression: bool = False
    pin: str | None = None
    pick: str | None = None  # "best": the alias belongs to the sweep (see runner.evals.ranking.pick_best)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    figures: str  # "pass rate 0.62 < 0.80; prod holds 0.81"
    candidate_rate: float | None = None
    holder_rate: float | None = None


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def decide(rule: Promotion, candidate: EvalResult | None, holder: EvalResult | None) -> Verdict:
    """Whether the candidate's result on the gate's suite lets the alias move to it.

    It passes when its pass rate is at least `min_pass_rate` and, with `no_regression`, not below the alias
    holder's on the same suite (an alias held by nobody, or a holder never scored on it, cannot regress)."""
    cand = candidate.pass_rate if candidate is not None and candidate.available else None
    held = holder.pass_rate if holder is not None and holder.available else None
    problems = []
    if cand is None:
        problems.append("no pass rate for the candidate")
    elif cand < rule.min_pass_rate:
        problems.append(f"pass rate {cand:.2f} < {rule.min_pass_rate:.2f}")
    if rule.no_regression and cand is not None and held is not None and cand < held:
        problems.append(f"regression: {cand:.2f} < {held:.2f}")
    holds = f"{rule.alias} holds {_rate(held)}" if holder is not None else f"{rule.alias} is not held yet"
    if problems:
        return Verdict(False, f"{'; '.join(problems)}; {holds}", cand, held)
    return Verdict(True, f"pass rate {_rate(cand)} >= {rule.min_pass_rate:.2f}; {holds}", cand, held)
