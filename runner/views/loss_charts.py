"""Loss curves drawn with matplotlib: every run of an experiment overlaid, and the latest run of every experiment
side by side, as inline SVG (for the HTML report) or PNG files.

Each drawn series carries an SVG id (`series_id`) so the report and its tests can find it. matplotlib is imported
here only, when a chart is drawn (the `report` extra).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.diagnostics import FtrunError
from runner.report import ExperimentReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Series:
    id: str  # the SVG id of the drawn line
    label: str
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    dashed: bool = False
    colour: int = 0  # index into the colour cycle: a run's train and validation lines share one


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    series: tuple[Series, ...]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def series_id(experiment: str, job_id: str, kind: str) -> str:
    """`loss-marv-ftjob-abc-train`: the SVG id of one run's train or validation curve."""
    return f"loss-{_slug(experiment)}-{_slug(job_id)}-{kind}"


def experiment_chart(e: ExperimentReport) -> Chart:
    """Train (solid) and validation (dashed) loss of every run of one experiment, step on x."""
    series: list[Series] = []
    for i, d in enumerate(e.runs):
        m = d.metrics
        if m is None:
            continue
        short = d.run.job_id[-8:]
        mark = " (current)" if d.current else ""
        train = [(p.step, p.train_loss) for p in m.points if p.train_loss is not None]
        valid = [(p.step, p.valid_loss) for p in m.points if p.valid_loss is not None]
        for kind, points, dashed in (("train", train, False), ("valid", valid, True)):
            if points:
                label = f"…{short}{mark} {'train' if kind == 'train' else 'validation'}"
                steps, losses = zip(*points, strict=True)
                series.append(Series(series_id(e.name, d.run.job_id, kind), label, steps, losses, dashed, i))
    return Chart(f"chart-{_slug(e.name)}", f"{e.name}: loss by step, every run", tuple(series))


def latest_chart(experiments: Sequence[ExperimentReport]) -> Chart:
    """The train loss of the latest run of every experiment, side by side on one chart."""
    series = []
    for i, e in enumerate(experiments):
        d = e.latest
        if d is None or d.metrics is None or not d.metrics.train:
            continue
        points = [(p.step, p.train_loss) for p in d.metrics.points if p.train_loss is not None]
        steps, losses = zip(*points, strict=True)
        series.append(Series(f"latest-{_slug(e.name)}-train", e.name, steps, losses, False, i))
    return Chart("chart-latest", "latest run of each experiment: train loss by step", tuple(series))


@contextmanager
def _matplotlib(salt: str) -> Iterator[Any]:
    """matplotlib with settings that make the same chart the same bytes (no dates, ids salted by the chart, so that
    the clip paths of two charts on one page differ, and text drawn as paths: no fonts needed to view it)."""
    try:
        import matplotlib
    except ImportError:
        raise FtrunError(
            "the report draws its charts with matplotlib, which is not installed",
            hint="pip install 'ftrun[report]'",
        ) from None
    with matplotlib.rc_context(
        {"svg.hashsalt": salt, "svg.fonttype": "path", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3}
    ):
        yield matplotlib


def _figure(chart: Chart) -> Figure:
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    colours = rcParams["axes.prop_cycle"].by_key()["color"]  # one colour per run
    for s in chart.series:
        (line,) = ax.plot(
            s.steps,
            s.losses,
            linestyle="--" if s.dashed else "-",
            marker="." if len(s.steps) < 30 else None,
            color=colours[s.colour % len(colours)],
            label=s.label,
        )
        line.set_gid(s.id)
    ax.set_title(chart.title)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if chart.series:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no losses recorded", ha="center", va="center", transform=ax.transAxes)
    return fig


def chart_svg(chart: Chart) -> str:
    """The chart as an `<svg>` element to put inline in HTML (no XML prolog, no external references)."""
    with _matplotlib(chart.id):
        buf = io.StringIO()
        _figure(chart).savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def write_png(chart: Chart, path: Path) -> Path:
    with _matplotlib(chart.id):
        _figure(chart).savefig(path, format="png", dpi=120, metadata={"Software": None})
    return path
