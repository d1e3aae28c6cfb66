"""The eval table: each experiment's suites with the base model, the alias holder and the candidate side by side,
the cases that flipped, and each promotion with its gate. Markdown for a pull request, text for a terminal, and the
JSON document `--json` prints. They render the plan's comparisons; they decide nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from rich.markup import escape

from runner.evals.planning import Comparison
from runner.evals.ranking import RankedVariant, SweepRanking
from runner.evals.records import EvalResult
from runner.plan import Action, Change, Plan
from runner.report import EvalTable
from runner.state import State


def _rate(r: EvalResult | None, *, pending: bool = False) -> str:
    if r is None:
        return "after apply" if pending else "—"
    if not r.available:
        return "n/a"
    rate = "—" if r.pass_rate is None else f"{r.pass_rate:.2f}"
    errors = f", {r.errors} err" if r.errors else ""
    return f"{rate} ({r.passed}/{r.cases}{errors})"


def _delta(c: Comparison) -> str:
    d = c.delta
    if d is None:
        return "—"
    return f"{d:+.2f}" + (" vs previous" if c.against == "previous" else "")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def promotion_text(c: Change, mark: Callable[[str], str] = str) -> str:
    """'marv@prod: blocked, stays on ftjob-1 (pass rate 0.62 < 0.80; prod holds 0.81)' and the like; `mark`
    emphasises the word "blocked" (bold in Markdown)."""
    p = c.promote
    assert p is not None
    alias = f"{c.experiment}@{p.alias}"
    if p.pinned:
        return f"{alias}: pinned to job {p.job_id}" + (f" (from {p.holder})" if p.holder else "")
    if p.blocked:
        return f"{alias}: {mark('blocked')}, stays on {p.holder or 'nothing'} ({p.figures})"
    to = f"{p.variant} ({p.job_id})" if p.variant else p.job_id
    if p.figures:
        return f"{alias}: moves to {to} ({p.figures})"
    rule = f"pass rate >= {p.min_pass_rate:.2f} on {p.suite}" + (f", not below {p.alias}'s" if p.no_regression else "")
    if p.sweep is not None:
        return f"{alias}: moves to the best variant after their evals, of those with {rule}"
    return f"{alias}: moves to the {'new run' if p.job_id is None else p.job_id} after its evals if {rule}"


def evals_markdown(comparisons: Sequence[Comparison], promotions: Sequence[Change] = ()) -> str:
    """The eval table (empty when no experiment has suites)."""
    if not comparisons and not promotions:
        return ""
    out = [
        "#### Evals",
        "",
        "| experiment | suite | base | alias holder | candidate | Δ |",
        "|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        holder = _rate(c.holder) if c.alias else "—"
        if c.alias and c.holder_job:
            holder = f"`{c.alias}` {holder}"
        out.append(
            f"| `{c.experiment}` | `{c.suite}` | {_rate(c.base)} | {holder} | {_rate(c.candidate, pending=c.pending)} "
            f"| {_delta(c)} |"
        )
    out.append("")
    for c in comparisons:
        if not c.flips:
            continue
        worse = sum(1 for f in c.flips if (f.was or 0) > (f.now or 0))
        out.append(
            f"<details><summary>{c.experiment} / {c.suite}: {len(c.flips)} case(s) flipped "
            f"({worse} pass → fail)</summary>"
        )
        out.append("")
        for f in c.flips:
            arrow = "pass → fail" if (f.was or 0) > (f.now or 0) else "fail → pass"
            out.append(f"- {arrow}: {_md(f.label)} (`{f.case}`)")
        out += ["", "</details>", ""]
    if promotions:
        out.append("**Promotions:**")
        for p in promotions:
            out.append(f"- {_md(promotion_text(p, lambda word: f'**{word}**'))}")
        out.append("")
    return "\n".join(out)


def plan_evals_markdown(plan: Plan) -> str:
    promotions = [c for c in plan.changes if c.action is Action.PROMOTE]
    return evals_markdown(plan.evals, promotions)


def evals_lines(comparisons: Sequence[Comparison], promotions: Sequence[Change] = ()) -> list[str]:
    """The same table for a terminal (Rich markup)."""
    if not comparisons:
        return []
    rows = [("experiment", "suite", "base", "alias holder", "candidate", "Δ")]
    for c in comparisons:
        holder = (f"{c.alias} " + _rate(c.holder)) if c.alias and c.holder_job else "—"
        rows.append((c.experiment, c.suite, _rate(c.base), holder, _rate(c.candidate, pending=c.pending), _delta(c)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["[bold]Evals:[/bold]"]
    for n, r in enumerate(rows):
        line = ("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))).rstrip()
        out.append(f"[dim]{escape(line)}[/dim]" if n == 0 else escape(line))
    for c in comparisons:
        for f in c.flips:
            arrow = "pass -> fail" if (f.was or 0) > (f.now or 0) else "fail -> pass"
            out.append(f"  [dim]{escape(c.experiment)}/{escape(c.suite)} {arrow}: {escape(f.label)}[/dim]")
    for p in promotions:
        colour = "yellow" if p.blocked else "green"
        out.append(f"  [{colour}]{escape(promotion_text(p))}[/]")
    return out


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _values(v: RankedVariant) -> str:
    return ", ".join(f"{field.rsplit('.', 1)[-1]}={_value(value)}" for field, value in v.values) or "—"


def _figure(v: RankedVariant, suite: str) -> str:
    f = v.figure(suite)
    if f is None or f.pass_rate is None:
        return "after apply" if f is not None and f.pending else "—"
    return f"{f.pass_rate:.2f}" + (f" ({f.mean_score:.2f})" if f.mean_score is not None else "")


def _ranking_rows(r: SweepRanking) -> list[tuple[str, ...]]:
    suites = [f"{s} *" if s == r.suite and len(r.suites) > 1 else s for s in r.suites]
    rows: list[tuple[str, ...]] = [("rank", "variant", "values", *suites)]
    for v in r.variants:
        rank = str(v.rank) if v.rank is not None else "—"
        rows.append((rank, v.experiment, _values(v), *(_figure(v, s) for s in r.suites)))
    return rows


def ranking_lines(rankings: Sequence[SweepRanking]) -> list[str]:
    """Each sweep's variants, best first: rank, name, the values that differ, pass rate (mean score) per suite."""
    out: list[str] = []
    for r in rankings:
        rows = _ranking_rows(r)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        out += ["", f"[bold]Sweep {escape(r.sweep)}[/bold] [dim](ranked by {escape(r.suite)})[/dim]"]
        for n, row in enumerate(rows):
            line = ("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
            out.append(f"[dim]{escape(line)}[/dim]" if n == 0 else escape(line))
    return out


def ranking_markdown(rankings: Sequence[SweepRanking]) -> str:
    out: list[str] = []
    for r in rankings:
        rows = _ranking_rows(r)
        out += [f"#### Sweep `{r.sweep}` (ranked by `{r.suite}`)", ""]
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "---|" * len(rows[0]))
        for row in rows[1:]:
            rank, name, values, *figures = row
            out.append(f"| {rank} | `{name}` | {_md(values)} | " + " | ".join(figures) + " |")
        out.append("")
    return "\n".join(out)


def ranking_document(r: SweepRanking) -> dict[str, Any]:
    return {**asdict(r), "best": r.best.experiment if r.best else None}


def evals_document(
    comparisons: Sequence[Comparison], promotions: Sequence[Change] = (), rankings: Sequence[SweepRanking] = ()
) -> dict[str, Any]:
    """`ftrun eval --json`: the comparisons, promotions and sweep rankings as the plan document holds them."""
    return {
        "evals": [{**asdict(c), "delta": c.delta} for c in comparisons],
        "sweeps": [ranking_document(r) for r in rankings],
        "promotions": [
            {"experiment": p.experiment, "blocked": p.blocked, "reason": p.reason, **asdict(p.promote)}
            for p in promotions
            if p.promote is not None
        ],
    }


def eval_change_lines(c: Change) -> list[str]:
    """The body lines of an evaluate or promote change in the text plan (none for other changes)."""
    sym, colour = ("?", "magenta") if c.action is Action.EVALUATE else ("@", "green")
    if c.evaluate is not None:
        on = ", ".join(
            f"{s.role} {s.job_id or s.model or 'new model'}" if s.job_id or s.model else f"{s.role} (the new model)"
            for s in c.evaluate.subjects
        )
        return [
            f"      [{colour}]{sym}[/] suite = {escape(c.evaluate.suite)} (key {escape(c.evaluate.key[:12])})",
            f"      [{colour}]{sym}[/] on    = {escape(on)}",
        ]
    if c.promote is not None:
        return [f"      [{colour}]{sym}[/] {escape(promotion_text(c))}"]
    return []


def blocked_lines(plan: Plan) -> list[str]:
    """Promotions whose gate fails (nothing to do, but a reviewer must see them), then the eval table."""
    out: list[str] = []
    if plan.blocked:
        out += ["", "[bold yellow]Promotions blocked:[/bold yellow]"]
        out += [f"  [yellow]![/] {escape(promotion_text(c))}" for c in plan.blocked]
    if plan.evals:
        out += ["", *evals_lines(plan.evals)]
    return out


REPORT_COLUMNS = ("run", "suite", "model", "pass rate", "passed", "failed", "errors", "mean score", "aliases")


def report_tables(state: State) -> dict[str, EvalTable]:
    """`ftrun report`'s eval table of each experiment: a row per run and suite (then the base model's), newest last."""
    tables = {}
    for name, es in sorted(state.experiments.items()):
        held: dict[str, list[str]] = {}
        for alias, record in sorted(es.aliases.items()):
            held.setdefault(record.job_id, []).append(f"{record.sweep or name}@{alias}")
        rows = [
            _report_row(run.job_id, r, ", ".join(held.get(run.job_id, ())))
            for run in es.runs
            for r in sorted(run.evals, key=lambda e: (e.suite, e.evaluated_at))
        ]
        rows += [_report_row("base", b, "") for b in es.baselines]
        if rows:
            tables[name] = EvalTable(REPORT_COLUMNS, tuple(rows))
    return tables


def _report_row(run: str, r: EvalResult, aliases: str) -> tuple[str, ...]:
    if not r.available:
        return (run, r.suite, r.model, "n/a", "", "", "", "", aliases)
    rate = "—" if r.pass_rate is None else f"{r.pass_rate:.2f}"
    score = "—" if r.mean_score is None else f"{r.mean_score:.2f}"
    return (run, r.suite, r.model, rate, str(r.passed), str(r.failed), str(r.errors), score, aliases)
