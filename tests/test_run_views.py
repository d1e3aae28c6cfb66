"""What trained, seen from the terminal: show, logs, cancel, resume, and model output made safe to print."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from workspaces import Workspace, chat_lines

from runner.cli import cli
from runner.metrics import run_metrics
from runner.remote import JobEvent
from runner.views.figures import sparkline
from runner.views.reports import data_delta_text
from runner.views.text import printable


def run(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_metrics_read_from_events_keep_the_last_figures_of_a_step() -> None:
    events = [
        JobEvent("e1", 10, "info", "Validating training file"),
        JobEvent("e2", 12, "info", "Fine-tuning job started"),
        JobEvent("e3", 13, "info", "Step 1/3", "metrics", {"step": 1, "total_steps": 3, "train_loss": 2.0}),
        JobEvent("e4", 14, "info", "Step 2/3", "metrics", {"step": 2, "train_loss": 1.5, "valid_loss": 1.9}),
        JobEvent("e5", 15, "info", "Step 2/3", "metrics", {"step": 2, "train_loss": 1.4, "valid_loss": 1.8}),
        JobEvent("e6", 16, "info", "Step 3/3", "metrics", {"step": 3, "train_loss": 1.6, "valid_loss": True}),
    ]
    m = run_metrics(events)
    assert [p.step for p in m.points] == [1, 2, 3] and m.total_steps == 3 and m.started_at == 12
    assert m.train == [2.0, 1.4, 1.6] and m.valid == [1.8]  # a boolean is no loss
    assert (m.final_train_loss, m.best_train_loss, m.final_valid_loss) == (1.6, 1.4, 1.8)


def test_sparkline_and_data_delta_words() -> None:
    assert sparkline([3, 2, 1]) == "█▅▁" and sparkline([]) == "" and len(sparkline(list(range(100)))) == 32
    assert data_delta_text((1, 1204)) == "+1 example, +1,204 tokens"
    assert data_delta_text((-2, -10)) == "-2 examples, -10 tokens"


def test_model_output_cannot_garble_the_terminal() -> None:
    assert (
        printable("Paris\x1b[2J\x1b]0;title\x07 is\x00 the\x9b \ufffdcapital\r\n.\tok") == "Paris is the capital\n.\tok"
    )


@pytest.mark.training
def test_show_logs_cancel_and_resume_on_a_real_job(workspace: Workspace) -> None:
    (workspace.root / "experiments" / "beta.yaml").unlink()
    run(workspace, "apply", "--auto-approve", "--wait")
    out = run(workspace, "show", "alpha")
    assert "hyperparameters: batch_size=" in out and "n_epochs=2" in out  # "auto" resolved by the server
    assert "train loss " in out and "trained for " in out and "checkpoint step " in out
    assert "data: 12 examples" in out
    doc = json.loads(run(workspace, "show", "alpha", "--json"))
    [first] = doc["runs"]
    assert first["loss"]["final_train"] is not None and first["loss"]["steps"] and first["checkpoints"]
    assert first["duration_s"] is not None and first["hyperparameters"]["n_epochs"] == 2
    md = run(workspace, "status", "--markdown")
    assert md.startswith("### ftrun status for `test-ws`") and "| `alpha` | succeeded | `ft:" in md
    assert "```mermaid\nxychart-beta\n" in md and '  title "alpha: loss by step"' in md and "  line [" in md
    logs = run(workspace, "logs", "alpha")
    assert "Fine-tuning job started" in logs and "The job has successfully completed" in logs
    lines = [json.loads(line) for line in run(workspace, "logs", "alpha", "--json").splitlines()]
    assert any(line["type"] == "metrics" and "train_loss" in line["data"] for line in lines)

    # One example more: the next run says what changed, in examples and tokens, not hashes.
    workspace.write("data/train.jsonl", chat_lines(13))
    run(workspace, "apply", "--auto-approve")
    out = run(workspace, "cancel", "alpha")
    assert "alpha: job " in out and "cancelled" in out
    doc = json.loads(run(workspace, "show", "alpha", "--json"))
    assert [r["status"] for r in doc["runs"]] == ["succeeded", "cancelled"]
    assert doc["runs"][1]["data_delta"]["examples"] == 1 and doc["runs"][1]["data_delta"]["tokens"] > 0
    assert "+1 example, +" in run(workspace, "show", "alpha")
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "resume", "alpha"])
    assert result.exit_code == 1 and "not paused" in result.output


def test_the_wait_line_names_the_phase_with_an_eta_and_keeps_the_final_loss() -> None:
    from runner.job_status import JobStatus as S
    from runner.views.progress import phase_text

    assert phase_text(S.VALIDATING_FILES, None, None, None, None) == "validating the data"
    assert phase_text(S.RUNNING, None, None, None, None) == "preparing the model"
    assert phase_text(S.RUNNING, 12, 40, 0.5, 8.2) == "training step 12/40, about 8 s left, loss 0.5000"
    assert phase_text(S.SUCCEEDED, None, None, 0.1234, None) == "succeeded, loss 0.1234"


def test_piped_wait_lines_keep_the_loss_after_the_job_ends() -> None:
    import io

    from rich.console import Console

    from runner.remote import Progress, RemoteJob
    from runner.views.progress import ConsoleObserver

    buffer = io.StringIO()
    observer = ConsoleObserver(Console(file=buffer, no_color=True, width=200))
    job = RemoteJob("ftjob-1", "running", "local/tiny", created_at=1_700_000_000)
    observer.job_progress("marv", job, Progress(step=5, total_steps=10, train_loss=0.75))
    observer.job_progress(
        "marv", RemoteJob("ftjob-1", "succeeded", "local/tiny", 1_700_000_000, finished_at=1_700_000_042), None
    )
    lines = buffer.getvalue().splitlines()
    assert "marv: training step 5/10, loss 0.7500" in lines[0]
    assert lines[1] == "  marv: succeeded, loss 0.7500 (42 s)"


def test_status_shows_pass_rates_and_aliases_only_for_experiments_with_evals() -> None:
    from runner.evals.records import AliasRecord, EvalResult
    from runner.evals.standing import standing
    from runner.run_details import RunDetails
    from runner.state import ExperimentState, Run
    from runner.views.reports import run_row, status_markdown, status_table

    plain = Run("ftjob-1", "h1", {"model": "local/tiny"}, "succeeded", 1, fine_tuned_model="ft:1")
    scored = Run(
        "ftjob-2",
        "h2",
        {"model": "local/tiny"},
        "succeeded",
        2,
        fine_tuned_model="ft:2",
        evals=(EvalResult("answers", "k1", "ft:2", cases=5, passed=4, failed=1, pass_rate=0.8, evaluated_at=3),),
    )
    a = ExperimentState("a", "m", {}, current="ftjob-1", runs=(plain,))
    b = ExperimentState(
        "b", "m", {}, current="ftjob-2", runs=(scored,), aliases={"prod": AliasRecord("ftjob-2", 4, {"answers": 0.8})}
    )
    without = [run_row("a", plain, standing(a))]
    assert "evals" not in without[0] and "aliases" not in without[0]
    assert "PASS RATE" not in status_table(without) and "ALIAS" not in status_table(without)
    rows = [*without, run_row("b", scored, standing(b))]
    assert rows[1]["evals"] == {"answers": 0.8} and rows[1]["aliases"][0]["job_id"] == "ftjob-2"
    lines = status_table(rows).splitlines()
    assert "PASS RATE" in lines[0] and lines[1].split()[-2:] == ["-", "-"]
    assert lines[2].endswith("answers 0.80  prod → ftjob-2 (0.80)")

    current = {"a": RunDetails(plain, True)}
    md = status_markdown("ws", "local", current, lambda run: None, {"a": standing(a)})
    assert "pass rate" not in md and "#### Evals" not in md
    current["b"] = RunDetails(scored, True)
    md = status_markdown("ws", "local", current, lambda run: None, {"a": standing(a), "b": standing(b)})
    assert "| - | - |" in md and "| answers 0.80 | prod → ftjob-2 (0.80) |" in md
    assert "| `b` | `answers` | — | `prod` 0.80 (4/5) | 0.80 (4/5) | — |" in md
