"""A sweep's variants ranked by their evals: each variant's model answers as scripted, so the ranking is known."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeProvider
from test_eval_flow import CASES, SUITE, Answer, case_line, knows
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import Context, cli
from runner.plan import Action, Plan, make_plan
from runner.remote import TAG_EXPERIMENT
from runner.state import State, StateStore
from runner.workspace import load_workspace

SWEEP = """training_file: data/train.jsonl
evals: [answers]
matrix:
  method.hyperparameters.learning_rate_multiplier: [{rates}]
  seed: [1, 2]
"""

# How many of the 4 cases each variant's model gets right.
KNOWS = {
    "marv-learning_rate_multiplier-0.5-seed-1": 1,
    "marv-learning_rate_multiplier-0.5-seed-2": 2,
    "marv-learning_rate_multiplier-1-seed-1": 4,
    "marv-learning_rate_multiplier-1-seed-2": 3,
    "marv-learning_rate_multiplier-2-seed-1": 2,
    "marv-learning_rate_multiplier-2-seed-2": 0,
}


class Sweep:
    def __init__(self, tmp_path: Path) -> None:
        self.ws = Workspace(tmp_path / "ws")
        self.ws.write("ftrun.yaml", "workspace: sweeps\ndefaults: {model: local/tiny}\n")
        self.ws.write("data/train.jsonl", chat_lines(12))
        self.ws.write("evals/answers.yaml", SUITE)
        self.ws.write("evals/cases.jsonl", "".join(case_line(q, a) for q, a in CASES))
        self.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2"))
        self.remote = FakeProvider()
        self.store = StateStore(self.ws.root / "state" / "local.json")

    def plan(self) -> tuple[Plan, pipeline.Loaded]:
        workspace = load_workspace(self.ws.root)
        loaded = pipeline.load(workspace, workspace.target())
        assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(loaded.desired, state, snap, target="local", endpoint="test", workspace=workspace.name)
        return plan, loaded

    def apply(self, answers: Mapping[str, Answer]) -> State:
        """Plan, apply, finish every job (each variant's model answering as `answers` says), run the evals."""
        plan, loaded = self.plan()
        state = self.store.load_or_new("local")
        desired = {d.experiment.name: d for d in loaded.desired}
        applier = Applier(self.store, self.remote, "sweeps", desired, Silent(), state, poll_interval=0)
        applier.apply(plan)
        for job_id, job in list(self.remote.jobs.items()):
            if job.status != "succeeded":
                self.remote.finish(job_id)
                model = self.remote.jobs[job_id].fine_tuned_model
                assert model
                self.remote.replies[model] = answers[job.metadata[TAG_EXPERIMENT]]
        applier.wait(sorted(applier.state.experiments), 0)
        return applier.run_deferred()

    def ftrun(self, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
        monkeypatch.setattr(Context, "provider_for", lambda _ctx, _target: self.remote)
        result = CliRunner().invoke(cli, ["-C", str(self.ws.root), "--no-color", *args])
        return result.exit_code, result.output


@pytest.fixture
def sweep(tmp_path: Path) -> Sweep:
    return Sweep(tmp_path)


def test_a_3x2_matrix_plans_six_creates_each_evaluated(sweep: Sweep) -> None:
    plan, _ = sweep.plan()
    creates = sorted(c.experiment for c in plan.changes if c.action is Action.CREATE)
    assert creates == sorted(KNOWS)
    assert sorted(c.experiment for c in plan.changes if c.action is Action.EVALUATE) == creates
    (ranking,) = plan.sweeps
    assert ranking.sweep == "marv" and ranking.suite == "answers"
    assert ranking.fields == ("method.hyperparameters.learning_rate_multiplier", "seed")
    assert all(v.rank is None and v.figures[0].pending for v in ranking.variants)  # scored after apply


def test_eval_ranks_the_variants_best_first_ties_by_name(sweep: Sweep, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep.apply({name: knows(n) for name, n in KNOWS.items()})
    code, out = sweep.ftrun(monkeypatch, "eval", "--json")
    assert code == 0, out
    (doc,) = json.loads(out)["sweeps"]
    ranked = [(v["rank"], v["experiment"], v["figures"][0]["pass_rate"]) for v in doc["variants"]]
    assert ranked == [
        (1, "marv-learning_rate_multiplier-1-seed-1", 1.0),
        (2, "marv-learning_rate_multiplier-1-seed-2", 0.75),
        (3, "marv-learning_rate_multiplier-0.5-seed-2", 0.5),  # ties with 2-seed-1 on 0.5: the name decides
        (4, "marv-learning_rate_multiplier-2-seed-1", 0.5),
        (5, "marv-learning_rate_multiplier-0.5-seed-1", 0.25),
        (6, "marv-learning_rate_multiplier-2-seed-2", 0.0),
    ]
    assert doc["best"] == "marv-learning_rate_multiplier-1-seed-1"
    assert doc["variants"][0]["values"] == [["method.hyperparameters.learning_rate_multiplier", 1], ["seed", 1]]

    code, out = sweep.ftrun(monkeypatch, "eval")
    assert code == 0, out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Sweep marv"))
    assert lines[head + 1].split() == ["rank", "variant", "values", "answers"]
    row = ["1", "marv-learning_rate_multiplier-1-seed-1", "learning_rate_multiplier=1,", "seed=1", "1.00"]
    assert lines[head + 2].split() == row


def test_adding_a_value_plans_only_the_new_variants_and_ranks_them_once_scored(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep.apply({name: knows(n) for name, n in KNOWS.items()})
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2, 4"))
    plan, _ = sweep.plan()
    new = ["marv-learning_rate_multiplier-4-seed-1", "marv-learning_rate_multiplier-4-seed-2"]
    assert sorted(c.experiment for c in plan.actionable if c.action is Action.CREATE) == new
    (ranking,) = plan.sweeps
    assert [v.experiment for v in ranking.variants[-2:]] == new  # not scored yet: no rank, last
    sweep.apply({new[0]: knows(4), new[1]: knows(0)})
    code, out = sweep.ftrun(monkeypatch, "eval", "--json")
    assert code == 0, out
    (doc,) = json.loads(out)["sweeps"]
    first = [v["experiment"] for v in doc["variants"][:2]]
    assert first == ["marv-learning_rate_multiplier-1-seed-1", new[0]]  # both 1.00: the name decides


PICK = """promote:
  alias: prod
  pick: best
  when: {suite: answers, min_pass_rate: 0.6, no_regression: true}
"""


def test_pick_best_promotes_the_best_variant_that_passes_and_output_prints_its_model(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2") + PICK)
    plan, _ = sweep.plan()
    (promote,) = [c for c in plan.changes if c.action is Action.PROMOTE]
    assert promote.experiment == "marv" and promote.promote and promote.promote.sweep == "marv"
    best = "marv-learning_rate_multiplier-1-seed-1"
    state = sweep.apply({name: knows(3 if name == best else n) for name, n in KNOWS.items()})  # ties 1-seed-2
    holders = {n: es.aliases["prod"] for n, es in state.experiments.items() if "prod" in es.aliases}
    assert list(holders) == [best] and holders[best].sweep == "marv"
    assert holders[best].job_id == state.experiments[best].current
    code, out = sweep.ftrun(monkeypatch, "output", "marv@prod")
    run = state.experiments[best].current_run
    assert code == 0 and run and out.strip() == run.fine_tuned_model
    again, _ = sweep.plan()
    assert not again.has_changes and not again.blocked  # the best already holds the alias

    # A new value whose variant does better: the alias moves to it, and the variant that held it lets it go.
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2, 4") + PICK)
    plan, _ = sweep.plan()
    (promote,) = [c for c in plan.changes if c.action is Action.PROMOTE]
    assert promote.promote and promote.promote.holder == holders[best].job_id and promote.promote.job_id is None
    top = "marv-learning_rate_multiplier-4-seed-2"
    state = sweep.apply({"marv-learning_rate_multiplier-4-seed-1": knows(3), top: knows(4)})
    holders = {n: es.aliases["prod"] for n, es in state.experiments.items() if "prod" in es.aliases}
    assert list(holders) == [top] and holders[top].sweep == "marv"
    assert holders[top].job_id == state.experiments[top].current
    code, out = sweep.ftrun(monkeypatch, "output", "marv@prod")
    run = state.experiments[top].current_run
    assert code == 0 and run and out.strip() == run.fine_tuned_model


def test_pick_best_never_picks_a_variant_below_the_gate_and_blocks_with_the_figures(sweep: Sweep) -> None:
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2") + PICK.replace("0.6", "0.8"))
    low = {name: knows(min(n, 3)) for name, n in KNOWS.items()}  # the best knows 3 of 4: 0.75 < 0.80
    state = sweep.apply(low)
    assert not any(es.aliases for es in state.experiments.values())
    plan, _ = sweep.plan()
    (blocked,) = plan.blocked
    assert blocked.experiment == "marv" and blocked.promote and blocked.promote.variant is None
    assert blocked.promote.figures == (
        "none of 6 variants passes; the best, marv-learning_rate_multiplier-1-seed-1: "
        "pass rate 0.75 < 0.80; prod is not held yet"
    )
    assert not plan.has_changes


def test_pick_without_a_matrix_is_an_error_at_its_line(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: sweeps\ndefaults: {model: local/tiny}\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.write("evals/answers.yaml", SUITE)
    ws.write("evals/cases.jsonl", "".join(case_line(q, a) for q, a in CASES))
    ws.experiment("solo", "training_file: data/train.jsonl\nevals: [answers]\n" + PICK)
    before = ws.state_bytes()
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "plan"])
    assert result.exit_code == 1, result.output
    assert "experiments/solo.yaml:5" in result.output
    assert "`promote.pick` picks among the variants of a `matrix:`" in result.output
    assert ws.state_bytes() == before


def test_the_plan_and_its_comment_show_the_variants_as_one_table(sweep: Sweep, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = sweep.ftrun(monkeypatch, "plan")
    assert code == 0, out
    assert out.count("# sweep marv: 6 variant(s)") == 1 and 'experiment "marv-' not in out
    rows = [line.split("  ") for line in out.splitlines() if line.startswith("    marv-")]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert [r[0] for r in rows] == sorted(KNOWS)
    assert rows[0][1:3] == ["learning_rate_multiplier=0.5, seed=1", "create, evaluate"]
    assert rows[0][-1] == "answers after apply"

    sweep.apply({name: knows(n) for name, n in KNOWS.items()})
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2, 4"))
    code, out = sweep.ftrun(monkeypatch, "plan", "--markdown")
    assert "**Sweep `marv`:** 2 variants" in out
    section = out.split("**Sweep `marv`:** 2 variants\n\n", 1)[1].split("\n\n", 1)[0]
    table = section.splitlines()[2:]
    assert [line.split(" | ")[0] for line in table] == [
        "| `marv-learning_rate_multiplier-4-seed-1`",
        "| `marv-learning_rate_multiplier-4-seed-2`",
    ]
    assert all(line.split(" | ")[2] == "create, evaluate" for line in table)


def test_a_selection_of_some_variants_leaves_the_sweeps_alias_alone(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep.ws.experiment("marv", SWEEP.format(rates="0.5, 1, 2") + PICK)
    code, out = sweep.ftrun(monkeypatch, "plan", "-s", "marv-learning_rate_multiplier-2-seed-2", "--json")
    assert code == 0, out
    assert [c["action"] for c in json.loads(out)["changes"]] == ["create", "evaluate"]
    code, out = sweep.ftrun(monkeypatch, "plan", "-s", "marv", "--json")
    assert [c["experiment"] for c in json.loads(out)["changes"] if c["action"] == "promote"] == ["marv"]
