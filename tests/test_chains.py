"""Chains: `model: {experiment: marv}` trains on marv's model, upstream first, and retrains when marv changes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fakes import FakeProvider
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import cli
from runner.diagnostics import ProviderError
from runner.plan import Action, Plan, make_plan
from runner.remote import RemoteJob
from runner.state import StateStore
from runner.workspace import load_workspace


class TrainingTarget(FakeProvider):
    """A fake target whose jobs finish the first time they are looked at while apply waits."""

    def get_job(self, job_id: str) -> RemoteJob | None:
        job = self.jobs.get(job_id)
        if job is not None and job.status == "validating_files":
            self.finish(job_id)
        return self.jobs.get(job_id)


def chain_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: chains\ndefaults: {model: local/tiny, seed: 1}\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.write("data/polite.jsonl", chat_lines(12, tag="polite"))
    ws.experiment("marv", "training_file: data/train.jsonl\n")
    ws.experiment(
        "polite", "description: marv, then manners\nmodel: {experiment: marv}\ntraining_file: data/polite.jsonl\n"
    )
    return ws


class Target:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.remote = TrainingTarget()
        self.store = StateStore(ws.root / "state" / "local.json")

    def plan(self, *, apply: bool = False, only: tuple[str, ...] = ()) -> Plan:
        workspace = load_workspace(self.ws.root)
        loaded = pipeline.load(workspace, workspace.target(), only=only)
        assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(loaded.desired, state, snap, target="local", endpoint="test", workspace=workspace.name)
        if apply:
            desired = {d.experiment.name: d for d in loaded.desired}
            Applier(self.store, self.remote, workspace.name, desired, Silent(), state, poll_interval=0).apply(plan)
        return plan


def test_upstream_first_on_its_model_and_a_change_upstream_retrains_downstream(tmp_path: Path) -> None:
    ws = chain_workspace(tmp_path)
    target = Target(ws)
    plan = target.plan(apply=True)
    assert [(c.action, c.experiment) for c in plan.ordered()] == [(Action.CREATE, "marv"), (Action.CREATE, "polite")]
    polite = {c.experiment: c for c in plan.changes}["polite"]
    assert polite.inputs is not None and polite.inputs["model"]["experiment"] == "marv"
    state = target.store.load()
    assert state is not None
    marv_model = state.experiments["marv"].current_run.fine_tuned_model  # type: ignore[union-attr]
    polite_job = target.remote.jobs[state.experiments["polite"].current or ""]
    assert marv_model and polite_job.model == marv_model  # trained on marv's model, not on local/tiny
    assert not target.plan().has_changes

    ws.experiment("marv", "training_file: data/train.jsonl\nseed: 2\n")
    plan = target.plan()
    why = {c.experiment: (c.action, c.reason) for c in plan.actionable}
    assert why == {
        "marv": (Action.RETRAIN, "seed changed"),
        "polite": (Action.RETRAIN, "its base model marv changed"),
    }
    assert [c.experiment for c in plan.ordered()] == ["marv", "polite"]
    target.plan(apply=True)
    state = target.store.load()
    assert state is not None
    new_marv = state.experiments["marv"].current_run.fine_tuned_model  # type: ignore[union-attr]
    assert new_marv != marv_model
    assert target.remote.jobs[state.experiments["polite"].current or ""].model == new_marv


def test_a_downstream_alone_waits_for_nothing_it_cannot_have(tmp_path: Path) -> None:
    ws = chain_workspace(tmp_path)
    target = Target(ws)
    plan = target.plan(only=("polite",))
    assert [c.experiment for c in plan.actionable] == ["polite"]
    [error] = [d for d in plan.diagnostics if d.severity == "error"]
    assert error.check == "base-not-planned" and error.hint == "select it too: `-s +polite`"
    assert (error.file, error.line) == ("experiments/polite.yaml", 2)
    try:
        target.plan(apply=True, only=("polite",))
        raise AssertionError("applied a chain without its base")
    except ProviderError as e:
        assert "which has no run of the version it needs" in str(e) and "-s +polite" in (e.diagnostics[0].hint or "")
    assert target.remote.creates == 0


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
    return result.exit_code, result.output


def test_selection_follows_chains_and_bad_chains_are_errors(tmp_path: Path) -> None:
    ws = chain_workspace(tmp_path)
    ws.experiment("rude", "model: {experiment: polite}\ntraining_file: data/polite.jsonl\n")
    code, out = run(ws, "plan", "-s", "+polite")
    assert code == 0 and "Selected (-s +polite): marv, polite." in out, out
    assert "model         = the model of experiment marv" in out
    code, out = run(ws, "plan", "-s", "polite+")  # without marv, which is not trained yet: said before any upload
    assert code == 1 and "Selected (-s polite+): polite, rude." in out, out
    assert "experiments/polite.yaml:2: polite trains on the model of marv, which is not in this plan" in out

    ws.experiment("marv", "model: {experiment: rude}\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "validate")
    assert code == 1
    assert "experiments build on each other in a cycle: marv -> rude -> polite -> marv" in out
    assert "(experiments/marv.yaml, experiments/polite.yaml, experiments/rude.yaml)" in out
    ws.experiment("marv", "model: {experiment: polit}\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "plan")
    assert code == 1 and "experiments/marv.yaml:1" in out and "builds on experiment 'polit'" in out
    assert "did you mean 'polite'?" in out


def test_a_chain_job_made_outside_ftrun_imports_as_trained_on_its_base(tmp_path: Path) -> None:
    from dataclasses import replace

    from runner.importing import import_job

    ws = chain_workspace(tmp_path)
    target = Target(ws)
    target.plan(apply=True)
    state = target.store.load()
    assert state is not None
    polite_job = target.remote.jobs[state.experiments["polite"].current or ""]
    # Forget polite, then import its job as if it had been made by hand (no ftrun tags).
    outside = replace(polite_job, id="ftjob-outside", metadata={}, seed=1, method_type="supervised")
    target.remote.jobs[outside.id] = outside
    state = state.without_experiment("polite")
    workspace = load_workspace(ws.root)
    [d] = pipeline.load(workspace, workspace.target(), only=("polite",)).desired
    shas = {f.file_id: sha for sha, f in state.files.items()}
    target.store.save(import_job(state, d, outside, shas))
    assert not target.plan().has_changes
