"""The read commands' documents and text: validate, status, show. They render what they are given."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from rich.markup import escape

from runner.diagnostics import Diagnostic, has_errors
from runner.job_status import JobStatus
from runner.plan import Desired
from runner.state import ExperimentState, Run
from runner.views.datasets import dataset_report
from runner.views.figures import estimate_text, money, table


def validate_document(desired: Sequence[Desired], diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    return {
        "valid": not has_errors(diagnostics),
        "experiments": [
            {
                "name": d.experiment.name,
                "training_hash": d.training_hash,
                "training_file": {
                    "display": d.training.display,
                    "sha256": d.training.sha256,
                    "examples": d.training.examples,
                    "stats": asdict(d.training.stats) if d.training.stats else None,
                    "checks": dict(d.training.check_counts),
                },
                "estimate": asdict(d.estimate) if d.estimate else None,
            }
            for d in desired
        ],
        "diagnostics": [d.to_dict() for d in diagnostics],
    }


def validate_lines(desired: Sequence[Desired]) -> list[str]:
    """Each distinct data file's report once, then a line per experiment and the verdict."""
    lines: list[str] = []
    reported: set[str] = set()
    for d in desired:
        for ds in (d.training, d.validation):
            if ds is not None and ds.sha256 not in reported:
                reported.add(ds.sha256)
                lines.extend(dataset_report(ds))
    for d in desired:
        stats = d.training.stats
        tokens = f", {stats.total_tokens:,} tokens" if stats else ""
        lines.append(
            f"[green]✓[/green] {escape(d.experiment.name)}: {escape(d.training.display)} "
            f"({d.training.examples} examples{tokens}); estimate {escape(estimate_text(d.estimate))}"
        )
    lines.append(f"[bold green]Valid:[/bold green] {len(desired)} experiment(s).")
    return lines


def run_row(name: str, run: Run | None) -> dict[str, Any]:
    return {
        "experiment": name,
        "job_id": run.job_id if run else None,
        "status": run.status if run else None,
        "fine_tuned_model": run.fine_tuned_model if run else None,
        "trained_tokens": run.trained_tokens if run else None,
        "estimated_usd": run.estimated_usd if run else None,
        "error": run.error if run else None,
    }


def status_table(rows: Sequence[dict[str, Any]]) -> str:
    return table(
        ["EXPERIMENT", "STATUS", "JOB", "MODEL", "TOKENS"],
        [
            [
                r["experiment"],
                r["status"] or "-",
                r["job_id"] or "-",
                r["fine_tuned_model"] or "-",
                f"{r['trained_tokens']:,}" if r["trained_tokens"] else "-",
            ]
            for r in rows
        ],
    )


def show_document(name: str, es: ExperimentState) -> dict[str, Any]:
    return {
        "experiment": name,
        "current": es.current,
        "metadata": dict(es.metadata),
        "runs": [asdict(r) for r in es.runs],
    }


def show_lines(name: str, target: str, es: ExperimentState, actual_cost: Callable[[Run], float | None]) -> list[str]:
    """One experiment's history, newest last; `actual_cost` prices a run's trained tokens."""
    lines = [f"[bold]{escape(name)}[/bold] on target '{escape(target)}'"]
    if es.metadata.get("description"):
        lines.append(f"  {escape(str(es.metadata['description']))}")
    for run in es.runs:
        marker = "[green]*[/green]" if run.job_id == es.current else " "
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at)) if run.created_at else "?"
        lines.append(
            f"{marker} {escape(run.job_id)}  {escape(run.status)}  created {when}  "
            f"training hash {run.training_hash[:12]}{'  (adopted)' if run.adopted else ''}"
        )
        if run.fine_tuned_model:
            lines.append(f"    model: {escape(run.fine_tuned_model)}")
        if run.trained_tokens is not None:
            lines.append(
                f"    trained tokens: {run.trained_tokens:,}; cost {money(actual_cost(run))} "
                f"(estimated {money(run.estimated_usd)})"
            )
        if run.error:
            code, message = str(run.error.get("code")), str(run.error.get("message"))
            lines.append(f"    [red]error[/red]: {escape(code)}: {escape(message)}")
    return lines


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
