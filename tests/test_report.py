"""`ftrun report`: one self-contained HTML page with a loss chart per experiment (every run overlaid), checked in a
real headless Chromium on real runs of the built-in server (one small apply); and the same charts as PNG images.

The browser test saves a screenshot of the report under FTRUN_TEST_ARTIFACTS (default: tests/artifacts/, ignored
by git) and prints where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeProvider
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import cli
from runner.datasets.pricing import actual_cost
from runner.plan import make_plan
from runner.remote import JobEvent
from runner.report import gather_report
from runner.state import StateStore
from runner.views.loss_charts import write_png
from runner.views.report_html import report_charts, report_html
from runner.workspace import load_workspace

ARTIFACTS = Path(os.environ.get("FTRUN_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")


def run(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _apply_with_fake(ws: Workspace, remote: FakeProvider, losses: dict[str, float]) -> None:
    """One apply against the in-memory target, then every new job finishes with a made-up loss curve."""
    workspace = load_workspace(ws.root)
    store = StateStore(workspace.state_path(workspace.target()))
    loaded = pipeline.load(workspace, workspace.target())
    state = store.load_or_new("local")
    p = make_plan(
        loaded.desired,
        state,
        pipeline.snapshot(remote, state, workspace),
        target="local",
        endpoint="built-in server (in-process)",
        workspace=workspace.name,
    )
    desired = {d.experiment.name: d for d in loaded.desired}
    state = Applier(store, remote, workspace.name, desired, Silent(), state).apply(p)
    for name, start in losses.items():
        job = state.experiments[name].current
        assert job is not None
        remote.job_events[job] = [
            JobEvent(f"{job}-{s}", 1_700_000_000 + s, "info", f"Step {s}/6", "metrics", metrics)
            for s in range(1, 7)
            for metrics in [{"step": s, "total_steps": 6, "train_loss": start / s, "valid_loss": start / s + 0.1}]
        ]
        remote.finish(job)


def _fake_report(ws: Workspace) -> tuple[str, list[str]]:
    remote = FakeProvider()
    _apply_with_fake(ws, remote, {"alpha": 3.0, "beta": 2.5})
    ws.write("data/train.jsonl", chat_lines(13))  # both retrain: two runs each
    _apply_with_fake(ws, remote, {"alpha": 2.0, "beta": 1.5})
    workspace = load_workspace(ws.root)
    state = StateStore(workspace.state_path(workspace.target())).load_or_new("local")
    loaded = pipeline.load(workspace, workspace.target())
    doc = gather_report(
        workspace.name,
        "local",
        state,
        loaded.desired,
        remote,
        lambda r: actual_cost("local/tiny", r.trained_tokens, free=True),
        now=1_700_000_000,
    )
    jobs = [r.job_id for name in ("alpha", "beta") for r in state.experiments[name].runs]
    return report_html(doc), jobs


def test_report_draws_every_run_of_every_experiment(workspace: Workspace, tmp_path: Path) -> None:
    html, jobs = _fake_report(workspace)
    assert len(jobs) == 4
    charts = dict(re.findall(r'<figure class="chart" id="(chart-[\w-]+)" data-series="([^"]*)"', html))
    assert set(charts) == {"chart-latest", "chart-alpha", "chart-beta"}
    for name in ("alpha", "beta"):
        series = charts[f"chart-{name}"].split()
        assert len(series) == 4  # two runs, each with a train and a validation curve
        for sid in series:
            assert f'id="{sid}"' in html  # matplotlib drew it with that id
    assert charts["chart-latest"].split() == ["latest-alpha-train", "latest-beta-train"]
    assert "13 examples" in html and "tokens per example p10/p50/p90/max" in html  # the data statistics
    assert html.count("No eval results for this experiment yet.") == 2
    # Self-contained: nothing to fetch.
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r'(?:src|href)="(?!#)', html) and not re.search(r"url\((?!#)", html)
    clip_ids = re.findall(r'<clipPath id="([^"]+)"', html)
    assert len(clip_ids) == len(set(clip_ids)) == 3  # each chart its own


def test_report_png_writes_the_same_charts(workspace: Workspace, tmp_path: Path) -> None:
    remote = FakeProvider()
    _apply_with_fake(workspace, remote, {"alpha": 3.0, "beta": 2.5})
    ws = load_workspace(workspace.root)
    state = StateStore(ws.state_path(ws.target())).load_or_new("local")
    doc = gather_report(ws.name, "local", state, (), remote, lambda r: None, now=0)
    written = [write_png(chart, tmp_path / f"{stem}.png") for stem, chart in report_charts(doc)]
    assert [p.name for p in written] == ["latest-runs.png", "loss-alpha.png", "loss-beta.png"]
    for p in written:
        assert p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and p.stat().st_size > 5000


def test_report_of_an_unknown_experiment_is_a_clear_error(workspace: Workspace) -> None:
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "report", "--offline", "nope"])
    assert result.exit_code == 1 and "no experiment named nope" in result.output


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are needed (scripts/test installs Debian's chromium-driver)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    return browser, driver


# What the page says about each chart once drawn: each listed series is an SVG element with a path of some length.
CHART_CHECK = """
return Array.from(document.querySelectorAll('figure.chart')).map(f => ({
  id: f.id,
  series: f.dataset.series.split(' ').filter(Boolean).map(id => {
    const g = document.getElementById(id);
    const path = g && g.querySelector('path');
    const box = path ? path.getBBox() : null;
    return {id, found: !!g, length: path ? path.getTotalLength() : 0, width: box ? box.width : 0};
  }),
}));
"""


@pytest.mark.slow
@pytest.mark.training
def test_report_renders_in_a_real_browser(workspace: Workspace) -> None:
    browser, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    workspace.write("data/valid.jsonl", chat_lines(4, "v"))
    workspace.experiment(
        "beta", "description: second\ntraining_file: data/train.jsonl\nvalidation_file: data/valid.jsonl\n"
    )
    run(workspace, "apply", "--auto-approve", "--wait")  # the one real apply: a tiny model per experiment
    # One example more: the comment names the delta against the run just trained.
    workspace.write("data/train.jsonl", chat_lines(13))
    md = run(workspace, "plan", "--markdown")
    assert md.startswith(("✅", "⚠")) and "(+1 example, +" in md and "<!-- ftrun-plan: test-ws/local -->" in md
    out_file = workspace.root / "out" / "report.html"
    out_file.parent.mkdir()
    run(workspace, "report", "-o", str(out_file), "--png", str(workspace.root / "out" / "png"))
    assert sorted(p.name for p in (workspace.root / "out" / "png").iterdir()) == [
        "latest-runs.png",
        "loss-alpha.png",
        "loss-beta.png",
    ]
    state = json.loads((workspace.root / "state" / "local.json").read_text())
    runs = {name: [r["job_id"] for r in e["runs"]] for name, e in state["experiments"].items()}
    assert {name: len(r) for name, r in runs.items()} == {"alpha": 1, "beta": 1}

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        chrome.get(out_file.as_uri())
        assert chrome.title == "ftrun report: test-ws on local"
        charts = {c["id"]: c["series"] for c in chrome.execute_script(CHART_CHECK)}
        assert set(charts) == {"chart-latest", "chart-alpha", "chart-beta"}  # one loss chart per experiment
        for name, jobs in runs.items():
            drawn = {s["id"] for s in charts[f"chart-{name}"]}
            assert {f"loss-{name}-{job}-train" for job in jobs} <= drawn  # every run (overlaid: the test above)
        assert {f"loss-beta-{job}-valid" for job in runs["beta"]} <= {s["id"] for s in charts["chart-beta"]}
        for chart, series in charts.items():
            for s in series:
                assert s["found"] and s["length"] > 0 and s["width"] > 0, (chart, s)
        assert chrome.execute_script("return performance.getEntriesByType('resource').length") == 0  # no fetches
        errors = [e for e in chrome.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        height = chrome.execute_script("return document.documentElement.scrollHeight")
        chrome.set_window_size(1280, min(int(height) + 40, 12000))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "report.png"
        assert chrome.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        shutil.copy(out_file, ARTIFACTS / "report.html")
        print(f"report screenshot: {shot}")
    finally:
        chrome.quit()
