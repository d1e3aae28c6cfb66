"""Renames (`moved_from`), `ftrun state list|show|rm|mv` and `ftrun import`, for real: the openai SDK against the
built-in server in this process, and ftrun's own commands on the same data."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
from click.testing import CliRunner
from openai import OpenAI
from workspaces import Workspace

from runner.cli import cli
from runner.server import create_app


def run(ws: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws), "--no-color", *args])
    return result.exit_code, result.output


def outside_client(ws: Path) -> OpenAI:
    """Someone using the target directly, without ftrun (no worker: the job waits, nothing trains)."""
    app = create_app(ws / ".ftrun" / "server", start_worker=False)
    return OpenAI(
        base_url="http://local.invalid/v1",
        api_key="x",
        http_client=httpx2.Client(transport=httpx2.WSGITransport(app=app)),
    )


def outside_job(ws: Path, *, n_epochs: int, seed: int, suffix: str) -> str:
    client = outside_client(ws)
    with (ws / "data" / "train.jsonl").open("rb") as f:
        uploaded = client.files.create(file=("my-upload.jsonl", f.read()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="local/tiny",
        training_file=uploaded.id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": n_epochs}}},
        suffix=suffix,
        seed=seed,
    )
    return job.id


def state_of(ws: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((ws / "state" / "local.json").read_text())  # type: ignore[no-any-return]


def test_import_then_rename_then_edit_state_by_hand(workspace: Workspace) -> None:
    ws = workspace.root
    try:
        _import_rename_and_edit(ws)
    finally:
        run(ws, "destroy", "--auto-approve")


def _import_rename_and_edit(ws: Path) -> None:
    # A job that trained what alpha's spec asks for (n_epochs 2, seed 1, suffix alpha, the same data).
    matching = outside_job(ws, n_epochs=2, seed=1, suffix="alpha")
    code, out = run(ws, "import", "alpha", matching)
    assert code == 0, out
    assert f"Imported job {matching}" in out and "shows no change" in out
    code, out = run(ws, "plan", "-s", "alpha", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out
    [(sha, record)] = state_of(ws)["files"].items()  # the upload is known: beta's plan uploads nothing
    code, out = run(ws, "plan", "-s", "beta")
    assert "Uploads" not in out and "beta will be created" in out, out

    # One that does not (another seed): imported, and the next plan retrains it, naming why.
    other = outside_job(ws, n_epochs=2, seed=7, suffix="beta")
    code, out = run(ws, "import", "beta", other)
    assert code == 0 and "~ seed: 7 -> 1" in out, out
    code, out = run(ws, "plan", "-s", "beta", "--json")
    [change] = json.loads(out)["changes"]
    assert change["action"] == "retrain" and change["reason"] == "seed changed"

    # Refusals: a job already in state, an experiment with no spec, a job the target does not have.
    code, out = run(ws, "import", "beta", matching)
    assert code == 1 and "already in state, as a run of 'alpha'" in out
    code, out = run(ws, "import", "nosuch", matching)
    assert code == 1 and "no experiment named 'nosuch'" in out
    code, out = run(ws, "import", "alpha", "ftjob-missing")
    assert code == 1 and "has no job ftjob-missing" in out

    # Rename alpha's file to gamma, with moved_from: a move, and no training.
    spec = (ws / "experiments" / "alpha.yaml").read_text()
    (ws / "experiments" / "alpha.yaml").unlink()
    (ws / "experiments" / "gamma.yaml").write_text(f"moved_from: alpha\n{spec}")
    code, out = run(ws, "plan", "-s", "gamma")
    assert code == 0, out
    assert "~> alpha → gamma" in out and "add `suffix: alpha`" in out  # its suffix came from its name
    assert "1 to move, 0 to create, 1 to retrain" in out
    (ws / "experiments" / "gamma.yaml").write_text(f"moved_from: alpha\nsuffix: alpha\n{spec}")
    code, out = run(ws, "plan")
    assert code == 0 and "Plan: 1 to move, 0 to create, 1 to retrain" in out, out  # the retrain is beta's seed
    assert "gamma will be forgotten" not in out and "alpha will be forgotten" not in out
    code, out = run(ws, "apply", "--auto-approve", "-s", "gamma")
    assert code == 0 and "alpha → gamma: moved in state" in out and "1 moved" in out, out
    doc = state_of(ws)
    assert sorted(doc["experiments"]) == ["beta", "gamma"] and doc["experiments"]["gamma"]["current"] == matching
    code, out = run(ws, "plan", "-s", "gamma", "--detailed-exitcode")  # the line may stay
    assert code == 0 and "No changes." in out, out

    # state list / show / mv / rm
    code, out = run(ws, "state", "list", "--json")
    assert [(e["experiment"], e["current"]) for e in json.loads(out)["experiments"]] == [
        ("beta", other),
        ("gamma", matching),
    ]
    code, out = run(ws, "state", "list", "-s", "g*")
    assert code == 0 and out.startswith("gamma") and "beta" not in out
    code, out = run(ws, "state", "show", "gamma", "--json")
    assert json.loads(out)["runs"][0]["job_id"] == matching
    code, out = run(ws, "state", "show", "nosuch")
    assert code == 1 and "no experiment 'nosuch'" in out and "known: beta, gamma" in out
    before = (ws / "state" / "local.json").read_bytes()
    code, out = run(ws, "state", "mv", "gamma", "beta")
    assert code == 1 and "already has an experiment 'beta'" in out
    code, out = run(ws, "state", "mv", "gamma", "not/a name")
    assert code == 1 and "'not/a name' is not an experiment name" in out
    code, out = run(ws, "state", "mv", "nosuch", "delta")
    assert code == 1 and "no experiment 'nosuch'" in out
    assert (ws / "state" / "local.json").read_bytes() == before  # refusals change nothing
    code, out = run(ws, "state", "mv", "gamma", "delta")
    assert code == 0 and "state/local.json.backup" in out, out
    assert (ws / "state" / "local.json.backup").read_bytes() == before
    assert state_of(ws)["experiments"]["delta"]["current"] == matching
    code, out = run(ws, "state", "rm", "delta")
    assert code == 0 and "jobs and models are untouched" in out
    assert sorted(state_of(ws)["experiments"]) == ["beta"]
    assert outside_client(ws).fine_tuning.jobs.retrieve(matching).status != "cancelled"
    code, out = run(ws, "state", "rm", "delta")
    assert code == 1 and "no experiment 'delta'" in out
    assert record["file_id"] in {f.id for f in outside_client(ws).files.list()} and sha


def test_bad_moves_are_errors_at_their_line(workspace: Workspace) -> None:
    ws = workspace.root
    workspace.experiment("gamma", "description: g\nmoved_from: alpha\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "validate")
    assert code == 1 and "experiments/gamma.yaml:2" in out
    assert "gamma is moved from 'alpha', but experiments/alpha.yaml still defines 'alpha'" in out
    (ws / "experiments" / "gamma.yaml").write_text("moved_from: old\ntraining_file: data/train.jsonl\n")
    workspace.experiment("delta", "moved_from: old\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "plan")
    assert (
        code == 1 and "two experiments are moved from 'old': experiments/delta.yaml and experiments/gamma.yaml" in out
    )
    assert not (ws / "state" / "local.json").exists()


def test_renaming_marv_to_sarcastic_in_the_example_workspace_plans_a_move_and_no_training(
    example_workspace: Path,
) -> None:
    from fakes import FakeProvider
    from rich.text import Text
    from workspaces import Workspace as Files

    from runner import pipeline
    from runner.apply import Applier, Silent
    from runner.plan import Action, make_plan
    from runner.state import StateStore
    from runner.views.plan import plan_text
    from runner.workspace import load_workspace

    remote = FakeProvider()
    store = StateStore(example_workspace / "state" / "local.json")

    def plan_and_apply(*, apply: bool = True):  # type: ignore[no-untyped-def]
        ws = load_workspace(example_workspace)
        loaded = pipeline.load(ws, ws.target())
        state = store.load_or_new("local")
        plan = make_plan(
            loaded.desired,
            state,
            pipeline.snapshot(remote, state, ws),
            target="local",
            endpoint="test",
            workspace=ws.name,
        )
        if apply:
            Applier(store, remote, ws.name, {d.experiment.name: d for d in loaded.desired}, Silent(), state).apply(plan)
        return plan

    plan_and_apply()
    marv_job = store.load_or_new("local").experiments["marv"].current
    creates = remote.creates
    files = Files(example_workspace)
    spec = (example_workspace / "experiments" / "marv.yaml").read_text()
    (example_workspace / "experiments" / "marv.yaml").unlink()
    files.experiment("sarcastic", f"moved_from: marv\n{spec}")
    plan = plan_and_apply(apply=False)
    assert [(c.action, c.moved_from, c.experiment) for c in plan.actionable] == [(Action.MOVE, "marv", "sarcastic")]
    text = Text.from_markup(plan_text(plan)).plain
    assert "~> marv → sarcastic" in text and "Plan: 1 to move, 0 to create, 0 to retrain" in text
    plan_and_apply()
    state = store.load_or_new("local")
    assert "marv" not in state.experiments and state.experiments["sarcastic"].current == marv_job
    assert remote.creates == creates
    assert not plan_and_apply(apply=False).has_changes
