"""Sweeps: `matrix:` expands one spec into one experiment per combination, with stable readable names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from fakes import FakeProvider
from hypothesis import given, settings
from hypothesis import strategies as st
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import cli
from runner.plan import Action, Plan, make_plan
from runner.state import StateStore
from runner.sweeps import variant_name
from runner.workspace import load_workspace

SWEEP = """description: epochs and seeds
training_file: data/train.jsonl
matrix:
  method.hyperparameters.n_epochs: [{epochs}]
  seed: [1, 2]
labels: [sweep]
"""


def sweep_workspace(tmp_path: Path, epochs: str = "2, 4") -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: sweeps\ndefaults: {model: local/tiny, seed: 9}\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.experiment("marv", SWEEP.format(epochs=epochs))
    return ws


class Target:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.remote = FakeProvider()
        self.store = StateStore(ws.root / "state" / "local.json")

    def plan(self, *, apply: bool = False) -> Plan:
        workspace = load_workspace(self.ws.root)
        loaded = pipeline.load(workspace, workspace.target())
        assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(loaded.desired, state, snap, target="local", endpoint="test", workspace=workspace.name)
        if apply:
            desired = {d.experiment.name: d for d in loaded.desired}
            Applier(self.store, self.remote, workspace.name, desired, Silent(), state).apply(plan)
        return plan


def actions(plan: Plan) -> dict[str, Action]:
    return {c.experiment: c.action for c in plan.changes}


def test_each_combination_is_its_own_experiment_and_adding_a_value_plans_one_create(tmp_path: Path) -> None:
    ws = sweep_workspace(tmp_path)
    target = Target(ws)
    plan = target.plan(apply=True)
    assert actions(plan) == {
        "marv-n_epochs-2-seed-1": Action.CREATE,
        "marv-n_epochs-2-seed-2": Action.CREATE,
        "marv-n_epochs-4-seed-1": Action.CREATE,
        "marv-n_epochs-4-seed-2": Action.CREATE,
    }
    assert len({c.training_hash for c in plan.changes}) == 4 and len(plan.uploads) == 1
    by = {c.experiment: c.inputs for c in plan.changes}
    assert by["marv-n_epochs-4-seed-2"] is not None
    assert by["marv-n_epochs-4-seed-2"]["seed"] == 2
    assert by["marv-n_epochs-4-seed-2"]["method"]["hyperparameters"] == {"n_epochs": 4}
    assert by["marv-n_epochs-4-seed-2"]["suffix"] == "marv-n_epochs-4-seed-2"

    ws.experiment("marv", SWEEP.format(epochs="2, 4, 8"))
    plan = target.plan()
    assert [(c.action, c.experiment) for c in plan.actionable] == [
        (Action.CREATE, "marv-n_epochs-8-seed-1"),
        (Action.CREATE, "marv-n_epochs-8-seed-2"),
    ]
    ws.experiment("marv", SWEEP.format(epochs="2, 4").replace("seed: [1, 2]", "seed: [1, 2, 3]"))
    assert [c.experiment for c in target.plan().actionable if c.action is Action.CREATE] == [
        "marv-n_epochs-2-seed-3",
        "marv-n_epochs-4-seed-3",
    ]


def test_names_are_readable_stable_and_at_most_64_characters() -> None:
    labels = {"model": "model", "method.hyperparameters.learning_rate_multiplier": "learning_rate_multiplier"}
    values = (("model", "/models/Some-Org/a-very-long-model-name-v2"), (list(labels)[1], 0.5))
    name = variant_name("a-rather-long-experiment-name", values, labels)
    assert len(name) <= 64 and name.startswith("a-rather-long-experiment-name-model-models_Some_Org")
    assert name == variant_name("a-rather-long-experiment-name", values, labels)
    other = variant_name("a-rather-long-experiment-name", (values[0], (list(labels)[1], 0.25)), labels)
    assert other != name and len(other) <= 64
    plain = {"seed": "seed", "training_file": "training_file"}
    name = variant_name("m", (("seed", 1), ("training_file", "data/a.jsonl")), plain)
    assert re.fullmatch(r"m-seed-1-training_file-data_a\.jsonl_[0-9a-f]{6}", name), name
    other = variant_name("m", (("seed", 1), ("training_file", "data_a.jsonl")), plain)
    assert other == "m-seed-1-training_file-data_a.jsonl"  # written in name characters: as written


def test_a_sweep_is_selected_by_its_name_and_bad_values_are_errors_at_their_line(tmp_path: Path) -> None:
    ws = sweep_workspace(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
        return result.exit_code, result.output

    code, out = run("plan", "-s", "marv", "--exclude", "*seed-2")
    assert code == 0 and "Selected (-s marv --exclude *seed-2): marv-n_epochs-2-seed-1, marv-n_epochs-4-seed-1." in out
    ws.experiment("marv", SWEEP.format(epochs="2,\n    0"))
    code, out = run("validate")
    assert code == 1 and "experiments/marv.yaml:5" in out and "n_epochs" in out, out
    ws.experiment(
        "marv", SWEEP.format(epochs="2").replace("method.hyperparameters.n_epochs", "method.hyperparameters.n_epoch")
    )
    code, out = run("validate")
    assert code == 1 and "experiments/marv.yaml:4" in out and "n_epoch" in out, out
    ws.experiment("marv", SWEEP.format(epochs="2").replace("seed: [1, 2]", "seed: [1, '1']"))
    code, out = run("validate")
    assert code == 1 and "experiments/marv.yaml:3" in out and "would both be named marv-n_epochs-2-seed-1" in out
    ws.experiment("marv", SWEEP.format(epochs=", ".join(map(str, range(1, 200)))))
    code, out = run("validate")
    assert code == 1 and "the matrix makes 398 experiments, more than 256" in out


@settings(max_examples=80, deadline=None)
@given(
    base=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", fullmatch=True),
    values=st.lists(
        st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=40)), min_size=2, unique=True
    ),
)
def test_variant_names_are_distinct_valid_and_short(base: str, values: list[object]) -> None:
    from runner.sweeps import expand

    variants = expand(base, {"model": "local/tiny", "matrix": {"method.hyperparameters.x": values}}, {})
    names = [v.name for v in variants]
    assert all(len(n) <= 64 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", n) for n in names), names
    written = {v if isinstance(v, str) else json.dumps(v) for v in values}
    assert len(set(names)) == len(written)  # values written apart get names apart (1 and "1" are refused, below)
