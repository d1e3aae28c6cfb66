"""What `ftrun validate` prints: each data file's report, a line per experiment and the verdict, or one JSON
document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rich.markup import escape

from runner.desired import Desired
from runner.diagnostics import Diagnostic, has_errors
from runner.views.datasets import dataset_report
from runner.views.figures import estimate_text


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
