"""Rendered plans against golden files (text, Markdown, JSON). Regenerate with FTRUN_UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fakes import FakeProvider
from rich.console import Console
from workspaces import Workspace

from runner import pipeline
from runner.apply import Applier, Silent
from runner.plan import Mode, Plan, make_plan
from runner.state import StateStore
from runner.views.plan import plan_json, plan_markdown, plan_text
from runner.workspace import load_workspace

GOLDEN = Path(__file__).parent / "golden"


def plain(markup: str) -> str:
    console = Console(no_color=True, emoji=False, width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(markup, soft_wrap=True)
    return console.export_text()


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FTRUN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with FTRUN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def mixed_plan(ws: Workspace, remote: FakeProvider | None = None) -> Plan:
    """A plan with one of each kind of change, on a fixed workspace."""
    ws.experiment("gamma", "description: third\ntraining_file: data/train.jsonl\nseed: 3\n")
    ws.experiment("delta", "description: fourth\ntraining_file: data/train.jsonl\nseed: 4\n")
    workspace = load_workspace(ws.root)
    store = StateStore(workspace.state_path(workspace.target()))
    remote = remote or FakeProvider()

    def plan() -> tuple[Plan, pipeline.Loaded]:
        loaded = pipeline.load(workspace, workspace.target())
        state = store.load_or_new("local")
        return make_plan(
            loaded.desired,
            state,
            pipeline.snapshot(remote, state, workspace),
            target="local",
            endpoint="built-in server (in-process)",
            workspace=workspace.name,
        ), loaded

    p, loaded = plan()
    state = Applier(
        store,
        remote,
        workspace.name,
        {d.experiment.name: d for d in loaded.desired},
        Silent(),
        store.load_or_new("local"),
    ).apply(p)
    beta, delta = state.experiments["beta"].current, state.experiments["delta"].current
    assert beta is not None and delta is not None
    remote.finish(beta)
    remote.finish(
        delta,
        "failed",
        error_code="invalid_n_examples",
        error_message="Training file has 7 example(s), but must have at least 10 examples",
    )
    ws.experiment(
        "alpha",
        "description: first\ntraining_file: data/train.jsonl\n"
        "method:\n  type: supervised\n  hyperparameters:\n    n_epochs: 4\n",
    )
    ws.experiment("beta", "description: second, reworded\ntraining_file: data/train.jsonl\n")
    (ws.root / "experiments" / "gamma.yaml").unlink()
    ws.experiment("epsilon", "training_file: data/train.jsonl\nseed: 5\n")
    return plan()[0]


@pytest.fixture
def frozen_lineage(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID("00000000-0000-4000-8000-000000000000"))


def test_plan_renderings_match_golden_files(workspace: Workspace, frozen_lineage: None) -> None:
    plan = mixed_plan(workspace)
    check("plan.txt", plain(plan_text(plan)))
    check("plan.md", plan_markdown(plan))
    doc = json.loads(plan_json(plan))
    assert doc["summary"] == {
        "move": 0,
        "create": 1,
        "retrain": 1,
        "adopt": 0,
        "update-state": 1,
        "cancel": 1,
        "forget": 0,
        "delete-model": 0,
    }
    check("plan.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_destroy_plan_renderings_match_golden_files(workspace: Workspace, frozen_lineage: None) -> None:
    """destroy is a plan like any other: text, Markdown and JSON, with the models it deletes."""
    remote = FakeProvider()
    mixed_plan(workspace, remote)  # leaves state with finished, failed and active runs
    ws = load_workspace(workspace.root)
    state = StateStore(ws.state_path(ws.target())).load_or_new("local")
    plan = make_plan(
        (),
        state,
        pipeline.snapshot(remote, state, ws),
        target="local",
        endpoint="built-in server (in-process)",
        workspace=ws.name,
        mode=Mode.DESTROY,
        delete_models=True,
    )
    check("destroy.txt", plain(plan_text(plan)))
    check("destroy.md", plan_markdown(plan))
    doc = json.loads(plan_json(plan))
    assert doc["mode"] == "destroy" and doc["summary"]["delete-model"] >= 1
    check("destroy.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
