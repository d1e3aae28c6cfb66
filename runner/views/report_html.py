"""`ftrun report`: one self-contained HTML page (styles and charts inline, nothing fetched), openable from a CI
artifact. The latest run of every experiment side by side, then per experiment its loss curves (every run
overlaid), its runs, its data, its cost and its eval results."""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from runner.datasets import Dataset
from runner.report import ExperimentReport, Report
from runner.views.figures import duration, loss, money
from runner.views.loss_charts import Chart, chart_svg, experiment_chart, latest_chart

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5em; color: #1f2328; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
h3 { margin-top: 1.4em; }
.meta, .note { color: #59636e; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; display: block;
        overflow-x: auto; max-width: 100%; font-size: 0.93em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.n { text-align: right; }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, monospace; } td code { overflow-wrap: anywhere; }
figure.chart { margin: 0.8em 0; } figure.chart svg { max-width: 100%; height: auto; }
.status-succeeded { color: #1a7f37; } .status-failed, .status-cancelled { color: #cf222e; }
section.experiment { margin-top: 2.5em; }
"""


def _chart(chart: Chart) -> str:
    ids = " ".join(s.id for s in chart.series)
    return f'<figure class="chart" id="{escape(chart.id)}" data-series="{escape(ids)}">{chart_svg(chart)}</figure>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Cells are HTML already (escape what goes in); columns in `numeric` are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: str) -> str:
    return f'<span class="status-{escape(status)}">{escape(status)}</span>'


def _latest_table(experiments: Sequence[ExperimentReport]) -> str:
    rows = []
    for e in experiments:
        d = e.latest
        if d is None:
            rows.append([f"<code>{escape(e.name)}</code>", "not trained yet", *["-"] * 7])
            continue
        m, run = d.metrics, d.run
        rows.append(
            [
                f'<a href="#exp-{escape(e.name)}"><code>{escape(e.name)}</code></a>',
                _status(run.status),
                f"<code>{escape(run.fine_tuned_model or '-')}</code>",
                loss(m.final_train_loss if m else None),
                loss(m.final_valid_loss if m else None),
                loss(m.best_valid_loss if m else None),
                str(m.points[-1].step) if m and m.points else "-",
                duration(d.duration_s) if d.duration_s is not None else "-",
                money(e.costs.get(run.job_id)),
            ]
        )
    headers = ["experiment", "status", "model", "final train loss", "final validation loss", "best validation loss"]
    return _table([*headers, "steps", "trained for", "cost"], rows, numeric=(3, 4, 5, 6, 8))


def _runs_table(e: ExperimentReport) -> str:
    rows = []
    for d in e.runs:
        run, m = d.run, d.metrics
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at)) if run.created_at else "?"
        data = f"{run.examples:,} examples" if run.examples is not None else "-"
        if run.data_tokens is not None:
            data += f", {run.data_tokens:,} tokens"
        rows.append(
            [
                f"<code>{escape(run.job_id)}</code>" + (" (current)" if d.current else ""),
                _status(run.status),
                escape(when),
                f"<code>{escape(run.fine_tuned_model or '-')}</code>",
                loss(m.final_train_loss if m else None),
                loss(m.final_valid_loss if m else None),
                escape(data),
                f"{run.trained_tokens:,}" if run.trained_tokens is not None else "-",
                f"{money(e.costs.get(run.job_id))} (estimated {money(run.estimated_usd)})",
                escape(", ".join(f.path for f in d.changes)) or "-",
            ]
        )
    headers = ["job", "status", "created (UTC)", "model", "final train loss", "final validation loss", "data"]
    headers += ["trained tokens", "cost", "changed from the previous run"]
    return _table(headers, rows, numeric=(4, 5, 7))


def _data_table(datasets: Sequence[Dataset]) -> str:
    rows = []
    for ds in datasets:
        st = ds.stats
        if st is None:
            rows.append([escape(ds.role), f"<code>{escape(ds.display)}</code>", f"{ds.examples:,}", *["-"] * 5])
            continue
        rows.append(
            [
                escape(ds.role),
                f"<code>{escape(ds.display)}</code>",
                f"{st.examples:,}",
                f"{st.total_tokens:,}",
                f"{st.assistant_tokens:,}",
                f"{st.p10:,} / {st.p50:,} / {st.p90:,} / {st.max:,}",
                f"{st.over_limit:,} (limit {st.context_limit:,})",
                escape(st.encoding),
            ]
        )
    headers = ["role", "file", "examples", "tokens", "assistant tokens (trained)", "tokens per example p10/p50/p90/max"]
    return _table([*headers, "over the context limit", "encoding"], rows, numeric=(2, 3, 4))


def _experiment(e: ExperimentReport) -> str:
    out = [f'<section class="experiment" id="exp-{escape(e.name)}"><h2><code>{escape(e.name)}</code></h2>']
    if e.description:
        out.append(f"<p>{escape(e.description)}</p>")
    out.append("<h3>Loss</h3>")
    if e.has_losses:
        out.append(_chart(experiment_chart(e)))
    else:
        out.append('<p class="note">No losses recorded for this experiment yet.</p>')
    out.append("<h3>Runs</h3>")
    out.append(_runs_table(e) if e.runs else '<p class="note">Not trained yet: run <code>ftrun apply</code>.</p>')
    out.append("<h3>Data</h3>")
    datasets = [ds for ds in (e.training, e.validation) if ds is not None]
    gone = '<p class="note">The spec of this experiment is gone or did not load.</p>'
    out.append(_data_table(datasets) if datasets else gone)
    out.append("<h3>Evals</h3>")
    if e.evals is not None and e.evals.rows:
        out.append(_table([escape(c) for c in e.evals.columns], [[escape(c) for c in r] for r in e.evals.rows]))
    else:
        out.append(f'<p class="note" id="evals-{escape(e.name)}">No eval results for this experiment yet.</p>')
    out.append("</section>")
    return "\n".join(out)


def report_html(report: Report) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    title = f"ftrun report: {report.workspace} on {report.target}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>ftrun report: <code>{escape(report.workspace)}</code></h1>",
        f'<p class="meta">Target <code>{escape(report.target)}</code>, made {escape(when)}; '
        f"{len(report.experiments)} experiment(s); cost of every run so far: {money(report.total_cost)}.</p>",
    ]
    if not report.experiments:
        out.append('<p class="note">No experiments yet: run <code>ftrun apply</code>.</p>')
    else:
        out.append("<h2>Latest runs</h2>")
        out.append(_latest_table(report.experiments))
        latest = latest_chart(report.experiments)
        if latest.series:
            out.append(_chart(latest))
        out += [_experiment(e) for e in report.experiments]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def report_charts(report: Report) -> list[tuple[str, Chart]]:
    """The charts as separate images (`ftrun report --png`): file stem and chart."""
    charts = [("latest-runs", latest_chart(report.experiments))]
    charts += [(f"loss-{e.name}", experiment_chart(e)) for e in report.experiments if e.has_losses]
    return [(stem, c) for stem, c in charts if c.series]
