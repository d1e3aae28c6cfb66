"""The planner and applier against an in-memory target: every kind of change, and crash recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import FakeProvider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.apply import Applier, Observer, Silent
from runner.diagnostics import ProviderError
from runner.events import ModelDeleted, WaitingForSlot, tally
from runner.plan import Action, Mode, Plan, make_plan
from runner.state import State, StateStore
from runner.workspace import load_workspace


class Harness:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.remote = FakeProvider()

    @property
    def store(self) -> StateStore:
        return StateStore(self.ws.root / "state" / "local.json")

    def destroy(self, *, delete_models: bool) -> tuple[Plan, Applier]:
        """Plan the destroy of everything in state and apply it."""
        workspace = load_workspace(self.ws.root)
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(
            (),
            state,
            snap,
            target="local",
            endpoint="test",
            workspace=workspace.name,
            mode=Mode.DESTROY,
            delete_models=delete_models,
        )
        applier = self.applier()
        applier.apply(plan)
        return plan, applier

    def plan(self, retrain: frozenset[str] = frozenset()) -> tuple[Plan, pipeline.Loaded]:
        workspace = load_workspace(self.ws.root)
        target = workspace.target()
        loaded = pipeline.load(workspace, target)
        assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(
            loaded.desired,
            state,
            snap,
            target="local",
            endpoint="test",
            workspace=workspace.name,
            retrain=retrain,
            budget_max_usd=workspace.budget_max_usd,
        )
        return plan, loaded

    def applier(self, loaded: pipeline.Loaded | None = None, observer: Observer | None = None, **kw: Any) -> Applier:
        """An applier over the state on disk, for the experiments in `loaded` (none: e.g. for destroy)."""
        desired = {d.experiment.name: d for d in loaded.desired} if loaded else {}
        state = self.store.load_or_new("local")
        return Applier(self.store, self.remote, "test-ws", desired, observer or Silent(), state, **kw)

    def apply(self, retrain: frozenset[str] = frozenset()) -> tuple[Plan, State]:
        plan, loaded = self.plan(retrain)
        return plan, self.applier(loaded).apply(plan)

    def actions(self, plan: Plan) -> dict[str, Action]:
        return {c.experiment: c.action for c in plan.changes}

    def finish_all(self, status: str = "succeeded") -> None:
        for job_id, job in list(self.remote.jobs.items()):
            if job.status not in ("succeeded", "failed", "cancelled"):
                self.remote.finish(job_id, status)


def current(state: State | None, name: str) -> str:
    """The job id of an experiment's current run (which the test knows to exist)."""
    assert state is not None
    job_id = state.experiments[name].current
    assert job_id is not None
    return job_id


@pytest.fixture
def h(workspace: Workspace) -> Harness:
    return Harness(workspace)


def test_new_experiments_are_created_and_shared_data_uploaded_once(h: Harness) -> None:
    plan, _ = h.plan()
    assert h.actions(plan) == {"alpha": Action.CREATE, "beta": Action.CREATE}
    assert len(plan.uploads) == 1
    _, state = h.apply()
    assert h.remote.uploads == 1
    assert h.remote.creates == 2
    assert set(state.experiments) == {"alpha", "beta"}
    job = h.remote.jobs[current(state, "alpha")]
    assert job.metadata["ftrun_experiment"] == "alpha"
    assert job.metadata["ftrun_workspace"] == "test-ws"
    assert len(job.metadata["ftrun_training_hash"]) == 64


def test_after_apply_nothing_changes_while_running_and_after_success(h: Harness) -> None:
    h.apply()
    plan, _ = h.plan()
    assert not plan.has_changes
    h.finish_all()
    plan, _ = h.plan()
    assert not plan.has_changes
    assert {r.job.status for r in plan.refresh} == {"succeeded"}
    _, state = h.apply()
    assert state.experiments["alpha"].current_run.fine_tuned_model  # type: ignore[union-attr]
    plan, _ = h.plan()
    assert not plan.has_changes and not plan.refresh


def test_hyperparameter_change_plans_a_retrain_naming_the_field(h: Harness) -> None:
    h.apply()
    h.finish_all()
    h.ws.experiment(
        "alpha",
        "description: first\ntraining_file: data/train.jsonl\n"
        "method:\n  type: supervised\n  hyperparameters:\n    n_epochs: 5\n",
    )
    plan, _ = h.plan()
    change = next(c for c in plan.changes if c.experiment == "alpha")
    assert change.action is Action.RETRAIN
    assert [f.path for f in change.fields] == ["method.hyperparameters.n_epochs"]
    assert (change.fields[0].old, change.fields[0].new) == (2, 5)
    assert "method.hyperparameters.n_epochs" in change.reason
    assert h.actions(plan)["beta"] is Action.NOOP
    old_model = h.remote.jobs[current(h.store.load(), "alpha")].fine_tuned_model
    _, state = h.apply()
    runs = state.experiments["alpha"].runs
    assert len(runs) == 2 and runs[0].fine_tuned_model == old_model  # the earlier model is kept in history
    assert not h.remote.deleted_models


def test_retrain_of_an_active_job_cancels_it_first(h: Harness) -> None:
    _, state = h.apply()
    first = current(state, "alpha")
    h.ws.write("data/train.jsonl", chat_lines(12, tag="other"))
    plan, _ = h.plan()
    change = next(c for c in plan.changes if c.experiment == "alpha")
    assert change.action is Action.RETRAIN and change.supersedes == first
    assert [f.path for f in change.fields] == ["training_file"]
    h.apply()
    assert h.remote.jobs[first].status == "cancelled"


def test_description_change_only_updates_state(h: Harness) -> None:
    h.apply()
    h.ws.experiment("beta", "description: changed words\ntraining_file: data/train.jsonl\n")
    plan, _ = h.plan()
    change = next(c for c in plan.changes if c.experiment == "beta")
    assert change.action is Action.UPDATE_STATE
    assert [f.path for f in change.fields] == ["description"]
    creates = h.remote.creates
    _, state = h.apply()
    assert h.remote.creates == creates
    assert state.experiments["beta"].metadata["description"] == "changed words"
    assert not h.plan()[0].has_changes


def test_removed_spec_cancels_active_job_and_forgets_finished_one_keeping_models(h: Harness) -> None:
    _, state = h.apply()
    alpha_job = state.experiments["alpha"].current
    assert alpha_job
    h.remote.finish(alpha_job)
    (h.ws.root / "experiments/alpha.yaml").unlink()
    (h.ws.root / "experiments/beta.yaml").unlink()
    plan, _ = h.plan()
    assert h.actions(plan) == {"alpha": Action.FORGET, "beta": Action.CANCEL}
    _, state = h.apply()
    assert state.experiments == {}
    assert h.remote.jobs[alpha_job].status == "succeeded"
    assert h.remote.jobs[alpha_job].fine_tuned_model
    assert not h.remote.deleted_models


def test_failed_job_is_shown_not_retried_until_asked(h: Harness) -> None:
    _, state = h.apply()
    h.remote.finish(
        current(state, "alpha"),
        "failed",
        error_code="invalid_n_examples",
        error_message="Training file has 7 example(s)",
    )
    h.apply()
    plan, _ = h.plan()
    change = next(c for c in plan.changes if c.experiment == "alpha")
    assert change.action is Action.NOOP
    assert any("Training file has 7 example(s)" in n for n in change.notes)
    assert any("--retrain alpha" in n for n in change.notes)
    plan, _ = h.plan(retrain=frozenset({"alpha"}))
    assert h.actions(plan)["alpha"] is Action.RETRAIN
    creates = h.remote.creates
    h.apply(retrain=frozenset({"alpha"}))
    assert h.remote.creates == creates + 1


def test_job_created_but_not_recorded_is_adopted_not_duplicated(h: Harness) -> None:
    h.apply()
    before = h.store.path.read_bytes()
    h.ws.experiment("gamma", "training_file: data/train.jsonl\nseed: 9\n")
    # Simulate a crash right after the create: the job exists remotely, state never heard of it.
    plan, loaded = h.plan()
    applier = h.applier(loaded)
    change = next(c for c in plan.changes if c.experiment == "gamma")
    applier._create(change)
    h.store.path.write_bytes(before)
    creates = h.remote.creates
    plan, _ = h.plan()
    assert h.actions(plan)["gamma"] is Action.ADOPT
    _, state = h.apply()
    assert h.remote.creates == creates
    assert len([j for j in h.remote.jobs.values() if j.metadata["ftrun_experiment"] == "gamma"]) == 1
    assert state.experiments["gamma"].current_run.adopted  # type: ignore[union-attr]


def test_create_that_fails_after_the_server_accepted_is_found_again(h: Harness) -> None:
    h.remote.fail_create_after_accept = True
    _, state = h.apply()
    assert h.remote.creates == 2
    assert {es.current for es in state.experiments.values()} == set(h.remote.jobs)


def test_lost_state_reuses_uploaded_files_and_adopts_jobs(h: Harness) -> None:
    h.apply()
    h.store.path.unlink()
    plan, _ = h.plan()
    assert h.actions(plan) == {"alpha": Action.ADOPT, "beta": Action.ADOPT}
    h.apply()
    assert h.remote.uploads == 1 and h.remote.creates == 2


def test_drift_job_cancelled_outside_and_job_gone(h: Harness) -> None:
    _, state = h.apply()
    alpha, beta = state.experiments["alpha"].current, state.experiments["beta"].current
    h.remote.cancel_job(alpha)  # type: ignore[arg-type]
    del h.remote.jobs[beta]  # type: ignore[arg-type]
    plan, _ = h.plan()
    assert {(d.experiment, d.remote_status) for d in plan.drift} == {("alpha", "cancelled"), ("beta", "gone")}
    assert h.actions(plan) == {"alpha": Action.NOOP, "beta": Action.CREATE}
    h.apply()
    assert not h.plan()[0].has_changes


def test_plan_is_pure_and_repeatable(h: Harness) -> None:
    h.apply()
    a, _ = h.plan()
    b, _ = h.plan()
    assert a == b
    assert a.to_dict() == b.to_dict()


def test_provider_errors_surface_and_state_keeps_completed_steps(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: object) -> None:
        raise ProviderError("refused")

    monkeypatch.setattr(h.remote, "create_job", refuse)
    with pytest.raises(ProviderError):
        h.apply()
    state = h.store.load()
    assert state is not None and len(state.files) == 1  # the upload was recorded before the create failed
    assert state.experiments == {}


def test_budget_below_total_fails_the_plan(h: Harness, tmp_path: Path) -> None:
    h.ws.write(
        "ftrun.yaml",
        "workspace: test-ws\ndefaults:\n  model: gpt-4.1-mini-2025-04-14\n"
        "targets:\n  local:\n    kind: local\n    free: false\nbudget:\n  max_usd: 0.0001\n",
    )
    plan, _ = h.plan()
    assert plan.new_spend_usd and plan.new_spend_usd > 0.0001
    assert plan.has_errors
    assert any(d.check == "over-budget" and "budget" in d.message for d in plan.diagnostics)


def test_saved_plan_is_applied_only_while_fresh(h: Harness) -> None:
    import json

    from runner.plan import stale_reasons

    saved, _ = h.plan()
    doc = json.loads(json.dumps(saved.to_dict()))
    assert stale_reasons(doc, h.plan()[0]) == []
    h.ws.write("data/train.jsonl", chat_lines(13))
    assert "the data it was made from changed" in stale_reasons(doc, h.plan()[0])
    h.ws.write("data/train.jsonl", chat_lines(12))
    h.apply()
    reasons = stale_reasons(doc, h.plan()[0])
    assert any("serial" in r for r in reasons)
    fresh = json.loads(json.dumps(h.plan()[0].to_dict()))
    h.ws.experiment("beta", "description: other words\ntraining_file: data/train.jsonl\n")
    assert stale_reasons(fresh, h.plan()[0]) == ["the specs or the target changed since"]


def test_destroy_cancels_active_jobs_keeps_models_unless_asked(h: Harness) -> None:
    _, state = h.apply()
    alpha, beta = state.experiments["alpha"].current, state.experiments["beta"].current
    assert alpha and beta
    h.remote.finish(alpha)
    plan, applier = h.destroy(delete_models=False)
    assert h.actions(plan) == {"alpha": Action.FORGET, "beta": Action.CANCEL}
    assert applier.state.experiments == {} and h.store.load().experiments == {}  # type: ignore[union-attr]
    assert h.remote.jobs[beta].status == "cancelled" and h.remote.jobs[alpha].status == "succeeded"
    assert h.remote.deleted_models == []
    assert tally(applier.events) | {"cancelled": 1, "forgotten": 2, "deleted": 0} == tally(applier.events)
    _, state = h.apply()
    h.finish_all()
    h.apply()
    plan, applier = h.destroy(delete_models=True)
    assert [c.action for c in plan.ordered()][:2] == [Action.DELETE_MODEL, Action.DELETE_MODEL]
    assert len(h.remote.deleted_models) == 2
    assert tally(applier.events)["deleted"] == 2


def test_max_active_jobs_waits_for_a_free_slot(h: Harness) -> None:
    plan, loaded = h.plan()
    polls = []
    real_get = h.remote.get_job

    def get_job(job_id: str):  # type: ignore[no-untyped-def]
        polls.append(job_id)
        if len(polls) == 3:  # the first job finishes while the second waits for a slot
            h.remote.finish(job_id)
        return real_get(job_id)

    h.remote.get_job = get_job  # type: ignore[method-assign]
    applier = h.applier(loaded, max_active_jobs=1, poll_interval=0.01)
    state = applier.apply(plan)
    assert h.remote.creates == 2
    assert WaitingForSlot(active=1, limit=1) in applier.events
    first = state.experiments["alpha"].current_run
    assert first is not None and first.status == "succeeded"


def test_destroy_survives_jobs_and_models_removed_outside(h: Harness) -> None:
    _, state = h.apply()
    alpha, beta = state.experiments["alpha"].current, state.experiments["beta"].current
    assert alpha and beta
    h.remote.finish(alpha)
    h.apply()
    del h.remote.jobs[beta]  # gone while state still thinks it is active
    h.remote.deleted_models.append(h.remote.jobs[alpha].fine_tuned_model or "")  # deleted by hand
    _, applier = h.destroy(delete_models=True)
    assert applier.state.experiments == {}
    gone = [e for e in applier.events if isinstance(e, ModelDeleted) and not e.existed]
    assert [e.model for e in gone] == [h.remote.jobs[alpha].fine_tuned_model]


def test_a_file_gone_from_the_target_is_uploaded_again(h: Harness) -> None:
    _, state = h.apply()
    [record] = state.files.values()
    del h.remote.files[record.file_id]
    h.ws.experiment("gamma", "training_file: data/train.jsonl\nseed: 11\n")
    _, state = h.apply()
    assert h.remote.uploads == 2
    assert h.remote.jobs[current(state, "gamma")].training_file in h.remote.files


def test_data_changed_between_check_and_upload_is_refused(h: Harness) -> None:
    from runner.diagnostics import SpecError

    plan, loaded = h.plan()
    h.ws.write("data/train.jsonl", chat_lines(12, tag="edited"))
    applier = h.applier(loaded)
    with pytest.raises(SpecError, match="changed after it was checked"):
        applier.apply(plan)
    assert h.remote.uploads == 0 and h.remote.creates == 0


def test_waiting_stops_at_a_paused_job(h: Harness) -> None:
    from dataclasses import replace

    plan, loaded = h.plan()
    applier = h.applier(loaded)
    state = applier.apply(plan)
    alpha, beta = state.experiments["alpha"].current, state.experiments["beta"].current
    h.remote.jobs[alpha] = replace(h.remote.jobs[alpha], status="paused")  # type: ignore[index]
    h.remote.finish(beta)  # type: ignore[arg-type]
    state = applier.wait(["alpha", "beta"], poll_interval=0.01, timeout=5)
    assert state.experiments["alpha"].current_run.status == "paused"  # type: ignore[union-attr]
    assert state.experiments["beta"].current_run.status == "succeeded"  # type: ignore[union-attr]


def test_a_budget_that_cannot_be_checked_says_so(h: Harness) -> None:
    h.ws.write(
        "ftrun.yaml",
        "workspace: test-ws\ndefaults:\n  model: some-unknown-model\n"
        "targets:\n  local:\n    kind: local\n    free: false\nbudget:\n  max_usd: 5\n",
    )
    plan, _ = h.plan()
    assert plan.new_spend_usd is None and not plan.has_errors
    [warning] = [d for d in plan.diagnostics if d.check == "unpriced"]
    assert "alpha, beta" in warning.message and "prices:" in (warning.hint or "")


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["alpha", "beta", "gamma"]),
        st.sampled_from(["epochs", "describe", "remove", "restore", "finish", "fail", "data"]),
        st.integers(1, 4),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_after_any_edits_apply_leaves_nothing_to_do(workspace: Workspace, tmp_path_factory, edits) -> None:  # type: ignore[no-untyped-def]
    """Whatever the specs and the target go through, one apply brings them in line: the next plan is empty, and no
    experiment ever has two jobs for one version."""
    import shutil

    root = tmp_path_factory.mktemp("prop")
    shutil.copytree(workspace.root, root, dirs_exist_ok=True)
    h = Harness(Workspace(root))
    h.apply()
    for name, edit, n in edits:
        spec = root / "experiments" / f"{name}.yaml"
        if edit == "epochs":
            h.ws.experiment(
                name,
                f"training_file: data/train.jsonl\nmethod: {{type: supervised, hyperparameters: {{n_epochs: {n}}}}}\n",
            )
        elif edit == "describe":
            h.ws.experiment(name, f"description: take {n}\ntraining_file: data/train.jsonl\n")
        elif edit == "remove":
            spec.unlink(missing_ok=True)
        elif edit == "restore":
            h.ws.experiment(name, "training_file: data/train.jsonl\n")
        elif edit == "data":
            h.ws.write("data/train.jsonl", chat_lines(10 + n))
        else:
            h.finish_all("succeeded" if edit == "finish" else "failed")
        h.apply()
        plan, _ = h.plan()
        assert not plan.has_changes, [(c.experiment, c.action, c.reason) for c in plan.actionable]
    by_version: dict[tuple[str, str], int] = {}
    for job in h.remote.jobs.values():
        if job.status != "cancelled":
            key = (job.metadata["ftrun_experiment"], job.metadata["ftrun_training_hash"])
            by_version[key] = by_version.get(key, 0) + 1
    assert all(n == 1 for n in by_version.values()), by_version


def test_going_back_to_a_trained_version_reuses_its_run(h: Harness) -> None:
    _, state = h.apply()
    first = state.experiments["alpha"].current
    assert first
    h.remote.finish(first)
    original = (h.ws.root / "experiments/alpha.yaml").read_text()
    h.ws.experiment("alpha", original.replace("n_epochs: 2", "n_epochs: 3"))
    _, state = h.apply()
    second = current(state, "alpha")
    assert second != first
    h.ws.experiment("alpha", original)  # back to the version the first job trained
    plan, _ = h.plan()
    change = next(c for c in plan.changes if c.experiment == "alpha")
    assert change.action is Action.ADOPT and change.job_id == first and change.supersedes == second
    creates = h.remote.creates
    _, state = h.apply()
    assert h.remote.creates == creates
    assert state.experiments["alpha"].current == first and h.remote.jobs[second].status == "cancelled"
    run = state.experiments["alpha"].current_run
    assert run is not None and not run.adopted and run.fine_tuned_model
    assert not h.plan()[0].has_changes
