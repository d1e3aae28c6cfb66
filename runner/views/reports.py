"""The read commands' documents and text: status and show. They render what they are given."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rich.markup import escape

from runner.evals.records import AliasRecord, EvalResult
from runner.evals.standing import ScoredResult, Standing
from runner.job_status import JobStatus
from runner.run_details import RunDetails
from runner.state import ExperimentState, Run
from runner.views.evals import evals_markdown
from runner.views.figures import data_delta_text, duration, loss, money, sparkline, table


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _result_rate(r: EvalResult) -> str:
    return _rate(r.pass_rate) if r.available else "n/a"


def _alias_document(alias: str, record: AliasRecord) -> dict[str, Any]:
    return {"alias": alias, **asdict(record), "scores": dict(record.scores)}


def run_row(name: str, run: Run | None, standing: Standing | None = None) -> dict[str, Any]:
    """A status row; `evals` (the current run's pass rate per suite) and `aliases` only where there are some."""
    row: dict[str, Any] = {
        "experiment": name,
        "job_id": run.job_id if run else None,
        "status": run.status if run else None,
        "fine_tuned_model": run.fine_tuned_model if run else None,
        "trained_tokens": run.trained_tokens if run else None,
        "estimated_usd": run.estimated_usd if run else None,
        "error": run.error if run else None,
    }
    if standing is not None and standing.results:
        row["evals"] = dict(standing.pass_rates)
    if standing is not None and standing.aliases:
        row["aliases"] = [_alias_document(a, r) for a, r in standing.aliases]
    return row


def pass_rates_text(rates: Mapping[str, float | None]) -> str:
    """'answers 0.75, tone —'"""
    return ", ".join(f"{suite} {_rate(rate)}" for suite, rate in rates.items())


def alias_text(alias: str, job_id: str, scores: Mapping[str, float | None]) -> str:
    """'prod → ftjob-1 (0.80)'; the suite is named when the alias moved on more than one."""
    if len(scores) == 1:
        figures = f" ({_rate(next(iter(scores.values())))})"
    elif scores:
        figures = f" ({pass_rates_text(scores)})"
    else:
        figures = ""
    return f"{alias} → {job_id}{figures}"


def _aliases_cell(row: Mapping[str, Any]) -> str:
    return ", ".join(alias_text(a["alias"], a["job_id"], a["scores"]) for a in row.get("aliases") or ())


def status_table(rows: Sequence[dict[str, Any]]) -> str:
    """The current runs; a PASS RATE and an ALIAS column when some experiment has evals or aliases."""
    headers = ["EXPERIMENT", "STATUS", "JOB", "MODEL", "TOKENS"]
    cells = [
        [
            r["experiment"],
            r["status"] or "-",
            r["job_id"] or "-",
            r["fine_tuned_model"] or "-",
            f"{r['trained_tokens']:,}" if r["trained_tokens"] else "-",
        ]
        for r in rows
    ]
    if any("evals" in r or "aliases" in r for r in rows):
        headers += ["PASS RATE", "ALIAS"]
        for line, r in zip(cells, rows, strict=True):
            line += [pass_rates_text(r.get("evals") or {}) or "-", _aliases_cell(r) or "-"]
    return table(headers, cells)


def run_document(d: RunDetails) -> dict[str, Any]:
    m = d.metrics
    return {
        **asdict(d.run),
        "current": d.current,
        "hyperparameters": d.hyperparameters,
        "duration_s": d.duration_s,
        "loss": {
            "final_train": m.final_train_loss if m else None,
            "best_train": m.best_train_loss if m else None,
            "final_valid": m.final_valid_loss if m else None,
            "best_valid": m.best_valid_loss if m else None,
            "steps": [asdict(p) for p in m.points] if m else [],
        },
        "checkpoints": [asdict(c) for c in d.checkpoints],
        "changed": [{"field": f.path, "old": f.old, "new": f.new} for f in d.changes],
        "data_delta": dict(zip(("examples", "tokens"), d.data_delta, strict=True)) if d.data_delta else None,
        "evals": [_scored_document(x) for x in d.evals],
        "aliases": [_alias_document(a, r) for a, r in d.aliases],
    }


def _scored_document(x: ScoredResult) -> dict[str, Any]:
    b = x.baseline
    baseline = {"model": b.model, "available": b.available, "reason": b.reason, "pass_rate": b.pass_rate} if b else None
    return {**x.result.to_dict(), "baseline": baseline}


def show_document(name: str, es: ExperimentState, details: Sequence[RunDetails]) -> dict[str, Any]:
    return {
        "experiment": name,
        "current": es.current,
        "metadata": dict(es.metadata),
        "runs": [run_document(d) for d in details],
        **({"aliases": [_alias_document(a, r) for a, r in sorted(es.aliases.items())]} if es.aliases else {}),
        **({"baselines": [b.to_dict() for b in es.baselines]} if es.baselines else {}),
    }


def show_lines(
    name: str,
    target: str,
    es: ExperimentState,
    details: Sequence[RunDetails],
    actual_cost: Callable[[Run], float | None],
) -> list[str]:
    """One experiment's history, newest last; `actual_cost` prices a run's trained tokens."""
    lines = [f"[bold]{escape(name)}[/bold] on target '{escape(target)}'"]
    if es.metadata.get("description"):
        lines.append(f"  {escape(str(es.metadata['description']))}")
    for d in details:
        run, m = d.run, d.metrics
        marker = "[green]*[/green]" if d.current else " "
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at)) if run.created_at else "?"
        lines.append(
            f"{marker} {escape(run.job_id)}  {escape(run.status)}  created {when}  "
            f"training hash {run.training_hash[:12]}{'  (adopted)' if run.adopted else ''}"
        )
        if run.fine_tuned_model:
            lines.append(f"    model: {escape(run.fine_tuned_model)}")
        if d.hyperparameters:
            params = ", ".join(f"{k}={v}" for k, v in sorted(d.hyperparameters.items()))
            lines.append(f"    hyperparameters: {escape(params)}")
        if d.duration_s is not None:
            lines.append(f"    trained for {duration(d.duration_s)}")
        if m is not None and m.train:
            lines.append(
                f"    train loss {loss(m.final_train_loss)} (best {loss(m.best_train_loss)})  "
                f"[cyan]{sparkline(m.train)}[/cyan]"
            )
        if m is not None and m.valid:
            lines.append(
                f"    validation loss {loss(m.final_valid_loss)} (best {loss(m.best_valid_loss)})  "
                f"[magenta]{sparkline(m.valid)}[/magenta]"
            )
        for c in d.checkpoints:
            figures = ", ".join(  # the step is on the line already
                f"{k} {loss(v)}" for k, v in sorted(c.metrics.items()) if isinstance(v, int | float) and k != "step"
            )
            lines.append(
                f"    checkpoint step {c.step}: {escape(c.model)}" + (f" ({escape(figures)})" if figures else "")
            )
        if run.examples is not None:
            tokens = f", {run.data_tokens:,} tokens" if run.data_tokens is not None else ""
            delta = data_delta_text(d.data_delta)
            lines.append(
                f"    data: {run.examples:,} examples{tokens}" + (f" ({delta} since the previous run)" if delta else "")
            )
        if d.changes:
            changed = ", ".join(f.path for f in d.changes)
            lines.append(f"    changed from the previous run: {escape(changed)}")
        if run.trained_tokens is not None:
            lines.append(
                f"    trained tokens: {run.trained_tokens:,}; cost {money(actual_cost(run))} "
                f"(estimated {money(run.estimated_usd)})"
            )
        if run.error:
            code, message = str(run.error.get("code")), str(run.error.get("message"))
            lines.append(f"    [red]error[/red]: {escape(code)}: {escape(message)}")
        lines += [f"    {escape(eval_result_text(x))}" for x in d.evals]
        for alias, record in d.aliases:
            since = time.strftime("%Y-%m-%d %H:%M", time.gmtime(record.since)) if record.since else "?"
            scores = f" ({pass_rates_text(record.scores)})" if record.scores else ""
            pinned = ", pinned" if record.pinned else ""
            lines.append(
                f"    [green]@[/green] holds {escape(name)}@{escape(alias)} since {since}{escape(scores)}{pinned}"
            )
    return lines


def eval_result_text(x: ScoredResult) -> str:
    """'eval answers: pass rate 0.75 (3 passed, 1 failed, 0 errors of 4 cases), mean score 0.80; base tiny 0.25'"""
    r = x.result
    if not r.available:
        text = f"eval {r.suite}: n/a" + (f" ({r.reason})" if r.reason else "")
    else:
        text = (
            f"eval {r.suite}: pass rate {_rate(r.pass_rate)} "
            f"({r.passed} passed, {r.failed} failed, {r.errors} errors of {r.cases} cases)"
        )
        if r.mean_score is not None:
            text += f", mean score {r.mean_score:.2f}"
    b = x.baseline
    if b is not None:
        text += f"; base {b.model} {_result_rate(b)}"
    return text


def _mermaid_chart(name: str, d: RunDetails) -> list[str]:
    """A loss chart GitHub draws in a comment (Mermaid's xychart-beta): training loss, and validation when known."""
    m = d.metrics
    if m is None or not m.train:
        return []
    points = [p for p in m.points if p.train_loss is not None][-60:]  # a comment-sized chart
    steps = ", ".join(str(p.step) for p in points)
    out = ["```mermaid", "xychart-beta", f'  title "{name}: loss by step"', f"  x-axis [{steps}]", '  y-axis "loss"']
    out.append("  line [" + ", ".join(f"{p.train_loss:.4f}" for p in points) + "]")
    valid = [p.valid_loss for p in points]
    if any(v is not None for v in valid):  # Mermaid lines need a value per step: carry the last one forward
        filled, last = [], next(v for v in valid if v is not None)
        for v in valid:
            last = v if v is not None else last
            filled.append(f"{last:.4f}")
        out.append("  line [" + ", ".join(filled) + "]")
    return [*out, "```"]


def status_markdown(
    workspace: str,
    target: str,
    current: Mapping[str, RunDetails],
    actual_cost: Callable[[Run], float | None],
    standings: Mapping[str, Standing] | None = None,
) -> str:
    """The comment for after an apply: every current job, its model, final losses, a loss chart, cost; with evals,
    each current run's pass rates, the alias holders, and the eval table."""
    out = [f"### ftrun status for `{workspace}` on target `{target}`", ""]
    if not current:
        return "\n".join([*out, "No experiments in state yet.", ""])
    standings = {n: s for n, s in (standings or {}).items() if n in current and s.any}
    extra = " pass rate | alias |" if standings else ""
    out += [
        "| experiment | status | model | train loss | validation loss | trained for | cost |" + extra,
        "|---|---|---|---|---|---|---|" + ("---|---|" if standings else ""),
    ]
    for name, d in current.items():
        m = d.metrics
        line = (
            f"| `{name}` | {d.run.status} | `{d.run.fine_tuned_model or '-'}` | "
            f"{loss(m.final_train_loss if m else None)} | {loss(m.final_valid_loss if m else None)} | "
            f"{duration(d.duration_s) if d.duration_s is not None else '-'} | {money(actual_cost(d.run))} |"
        )
        if standings:
            st = standings.get(name)
            rates = pass_rates_text(st.pass_rates) if st else ""
            held = ", ".join(alias_text(a, r.job_id, r.scores) for a, r in st.aliases).replace("|", "\\|") if st else ""
            line += f" {rates or '-'} | {held or '-'} |"
        out.append(line)
    for name, d in current.items():
        chart = _mermaid_chart(name, d)
        if chart:
            out += ["", *chart]
    table_md = evals_markdown([c for s in standings.values() for c in s.comparisons])
    if table_md:
        out += ["", table_md.rstrip("\n")]
    return "\n".join(out) + "\n"


def finished_lines(runs: Sequence[tuple[str, Run]]) -> tuple[list[str], list[str]]:
    """After `apply --wait`: a line per job, and the names of those that did not succeed."""
    lines: list[str] = []
    failed: list[str] = []
    for name, run in runs:
        if run.status == JobStatus.SUCCEEDED:
            lines.append(f"[green]✓[/green] {escape(name)}: {escape(run.fine_tuned_model or '')}")
        else:
            why = f": {run.error.get('message')}" if run.error else ""
            lines.append(f"[red]✗[/red] {escape(name)}: {run.status}{escape(why)}")
            failed.append(name)
    return lines, failed
