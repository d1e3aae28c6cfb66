"""The ranking of a sweep's variants (see runner.sweeps) by their eval results, purely.

A variant ranks by its candidate's pass rate on the sweep's ranking suite (the gate's suite of its `promote:`, else
the first suite it lists), highest first; ties go to the higher mean score, then to the name. A variant without a
pass rate on that suite yet (not trained, not evaluated, or the target cannot chat with it) has no rank and comes
last. `ftrun eval` shows the ranking, and `promote: {pick: best}` moves the sweep's alias to the best variant that
passes the gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.evals.gate import Promotion, Verdict, decide
from runner.evals.planning import Comparison
from runner.evals.records import EvalResult


@dataclass(frozen=True)
class SweepMember:
    """A variant as the ranking needs it: its name, its matrix values, its suites and its gate's suite."""

    experiment: str
    sweep: str
    values: tuple[tuple[str, Any], ...]
    suites: tuple[str, ...]
    gate_suite: str | None = None


@dataclass(frozen=True)
class SuiteFigure:
    suite: str
    pass_rate: float | None
    mean_score: float | None
    pending: bool  # the variant is still to be scored on it


@dataclass(frozen=True)
class RankedVariant:
    experiment: str
    values: tuple[tuple[str, Any], ...]  # only the fields whose values differ between the sweep's variants
    job_id: str | None  # the run scored (None: the run this plan trains)
    figures: tuple[SuiteFigure, ...]  # one per suite of the sweep, in its order
    rank: int | None  # 1 is best; None without a pass rate on the ranking suite

    def figure(self, suite: str) -> SuiteFigure | None:
        return next((f for f in self.figures if f.suite == suite), None)


@dataclass(frozen=True)
class SweepRanking:
    sweep: str
    suite: str  # the suite the variants rank by
    suites: tuple[str, ...]
    fields: tuple[str, ...]  # the dotted fields whose values differ
    variants: tuple[RankedVariant, ...]  # best first, unranked last

    @property
    def best(self) -> RankedVariant | None:
        return self.variants[0] if self.variants and self.variants[0].rank is not None else None


def _available(r: EvalResult | None) -> EvalResult | None:
    return r if r is not None and r.available else None


def rank_key(pass_rate: float, mean_score: float | None, name: str) -> tuple[float, float, str]:
    """Sort key of a ranked variant: higher pass rate, then higher mean score (none counts lowest), then name."""
    return (-pass_rate, -(mean_score if mean_score is not None else float("-inf")), name)


def rank_sweeps(members: Iterable[SweepMember], comparisons: Sequence[Comparison]) -> tuple[SweepRanking, ...]:
    """One ranking per sweep whose variants list suites, in the order of the sweeps' names."""
    by_sweep: dict[str, list[SweepMember]] = {}
    for m in members:
        if m.suites:
            by_sweep.setdefault(m.sweep, []).append(m)
    rows = {(c.experiment, c.suite): c for c in comparisons}
    out = []
    for sweep, group in sorted(by_sweep.items()):
        suites = tuple(dict.fromkeys(s for m in group for s in m.suites))
        gate = next((m.gate_suite for m in group if m.gate_suite), None)
        suite = gate if gate in suites else suites[0]  # a gate's suite that did not load is reported where it is read
        fields = tuple(
            f
            for f in dict.fromkeys(f for m in group for f, _ in m.values)
            if len({repr(dict(m.values).get(f)) for m in group}) > 1
        )
        ranked: list[tuple[tuple[float, float, str] | None, RankedVariant]] = []
        for m in group:
            figures = []
            job_id = None
            for s in suites:
                c = rows.get((m.experiment, s))
                r = _available(c.candidate) if c else None
                if c is not None and c.candidate_job:
                    job_id = c.candidate_job
                figures.append(
                    SuiteFigure(s, r.pass_rate if r else None, r.mean_score if r else None, bool(c and c.pending))
                )
            on = next(f for f in figures if f.suite == suite)
            key = rank_key(on.pass_rate, on.mean_score, m.experiment) if on.pass_rate is not None else None
            values = tuple((f, v) for f, v in m.values if f in fields)
            ranked.append((key, RankedVariant(m.experiment, values, job_id, tuple(figures), None)))
        scored = sorted(((k, v) for k, v in ranked if k is not None), key=lambda kv: kv[0])
        unscored = sorted((v for k, v in ranked if k is None), key=lambda v: v.experiment)
        variants = [RankedVariant(v.experiment, v.values, v.job_id, v.figures, i) for i, (_, v) in enumerate(scored, 1)]
        out.append(SweepRanking(sweep, suite, suites, fields, (*variants, *unscored)))
    return tuple(out)


@dataclass(frozen=True)
class Entrant:
    """A variant in the running for the sweep's alias: its current run, and that run's result on the gate's suite."""

    experiment: str
    job_id: str | None
    result: EvalResult | None


@dataclass(frozen=True)
class Pick:
    winner: Entrant | None  # None: no variant passes the gate
    figures: str


def pick_best(rule: Promotion, entrants: Sequence[Entrant], holder: EvalResult | None, held: bool) -> Pick:
    """`promote: {pick: best}`: the best-ranked variant whose result passes the gate (`holder` is the result of the
    run the sweep's alias points at now, on the same suite; `held` says whether it points at one). A variant that
    fails the gate is never picked; when none passes, the figures say how the best of them fared."""
    verdicts: list[tuple[Entrant, Verdict]] = [(e, decide(rule, e.result, holder if held else None)) for e in entrants]
    rated = [(e, v) for e, v in verdicts if v.candidate_rate is not None]

    def key(ev: tuple[Entrant, Verdict]) -> tuple[float, float, str]:
        e, v = ev
        assert v.candidate_rate is not None and e.result is not None
        return rank_key(v.candidate_rate, e.result.mean_score, e.experiment)

    passing = sorted(((e, v) for e, v in rated if v.passed), key=key)
    if passing:
        winner, verdict = passing[0]
        return Pick(winner, f"best of {len(entrants)} variants: {winner.experiment}, {verdict.figures}")
    if not rated:
        return Pick(None, f"none of {len(entrants)} variants has a pass rate on {rule.suite}")
    best, verdict = sorted(rated, key=key)[0]
    return Pick(None, f"none of {len(entrants)} variants passes; the best, {best.experiment}: {verdict.figures}")
