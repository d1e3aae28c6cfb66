"""Evals through the planner and applier against the in-memory target: evaluate steps keyed by suite content,
promotion gates that pass or block with their figures, pins, and judges that answer nonsense."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from fakes import FakeProvider
from workspaces import Workspace, chat_lines

from runner import events as ev
from runner import pipeline
from runner.apply import Applier, Silent
from runner.plan import Action, Plan, make_plan
from runner.state import State, StateStore
from runner.workspace import load_workspace

SUITE = """\
cases: evals/cases.jsonl
assert:
  - {type: not-contains, value: "sorry"}
"""
CASES = [
    ("q question 0?", "answer 0."),
    ("q question 1?", "answer 1."),
    ("q question 2?", "answer 2."),
    ("q question 3?", "answer 3."),
]


def case_line(question: str, expected: str) -> str:
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": question}]
    return json.dumps({"messages": messages, "assert": [{"type": "equals", "value": expected}]}) + "\n"


Answer = Callable[[Sequence[Mapping[str, Any]]], str]


def knows(n: int) -> Answer:
    """A model that answers the first `n` cases right and the rest wrong."""

    def answer(messages: Sequence[Mapping[str, Any]]) -> str:
        q = str(messages[-1]["content"])
        i = int(q.split()[-1].rstrip("?"))
        return f"answer {i}." if i < n else "no idea"

    return answer


class Evals:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.remote = FakeProvider()
        self.answers: list[Answer] = []  # how each next trained model answers, in the order jobs finish
        self.events: list[ev.Event] = []

    @property
    def store(self) -> StateStore:
        return StateStore(self.ws.root / "state" / "local.json")

    def plan(self) -> tuple[Plan, pipeline.Loaded]:
        workspace = load_workspace(self.ws.root)
        loaded = pipeline.load(workspace, workspace.target())
        state = self.store.load_or_new("local")
        snap = pipeline.snapshot(self.remote, state, workspace)
        plan = make_plan(
            loaded.desired,
            state,
            snap,
            target="local",
            endpoint="test",
            workspace=workspace.name,
            diagnostics=loaded.diagnostics,
        )
        return plan, loaded

    def apply(self, *, wait: bool = True) -> tuple[Plan, State]:
        """Plan, apply, finish the jobs (each model answering as the next of `answers`), run the deferred evals."""
        plan, loaded = self.plan()
        applier = Applier(
            self.store,
            self.remote,
            "test-ws",
            {d.experiment.name: d for d in loaded.desired},
            Silent(),
            self.store.load_or_new("local"),
            poll_interval=0,
        )
        applier.apply(plan)
        for job_id, job in list(self.remote.jobs.items()):
            if job.status not in ("succeeded", "failed", "cancelled"):
                self.remote.finish(job_id)
                model = self.remote.jobs[job_id].fine_tuned_model
                assert model
                self.remote.replies[model] = self.answers.pop(0)
        if wait:
            applier.wait(sorted(applier.state.experiments), 0)
            applier.run_deferred()
        else:
            applier.report_deferred()
        self.events = applier.events
        return plan, applier.state


def actions(plan: Plan) -> list[tuple[str, Action]]:
    return sorted((c.experiment, c.action) for c in plan.actionable)


@pytest.fixture
def h(tmp_path: Any) -> Evals:
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: test-ws\ndefaults:\n  model: local/tiny\n  seed: 1\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.write("evals/answers.yaml", SUITE)
    ws.write("evals/cases.jsonl", "".join(case_line(q, a) for q, a in CASES))
    ws.experiment(
        "bot",
        "training_file: data/train.jsonl\nevals: [answers]\n"
        "promote:\n  alias: prod\n  when: {suite: answers, min_pass_rate: 0.5, no_regression: true}\n",
    )
    ws.experiment("rough", "training_file: data/train.jsonl\nseed: 2\nevals: [answers]\n")
    return Evals(ws)


def test_apply_evaluates_after_training_promotes_and_a_second_plan_has_no_changes(h: Evals) -> None:
    plan, _ = h.plan()
    assert actions(plan) == [
        ("bot", Action.CREATE),
        ("bot", Action.EVALUATE),
        ("bot", Action.PROMOTE),
        ("rough", Action.CREATE),
        ("rough", Action.EVALUATE),
    ]
    h.answers = [knows(3), knows(1)]  # bot, rough (jobs finish in creation order: bot first)
    _, state = h.apply()
    bot, rough = state.experiments["bot"], state.experiments["rough"]
    assert bot.current_run and bot.current_run.evals[0].pass_rate == 0.75
    assert rough.current_run and rough.current_run.evals[0].pass_rate == 0.25
    assert bot.aliases["prod"].job_id == bot.current
    assert bot.baselines[0].available is False  # the fake target cannot chat with a base model
    calls = h.remote.chat_calls
    again, _ = h.plan()
    assert not again.has_changes
    rows = {r.experiment: r for r in again.evals}
    assert rows["bot"].candidate and rows["bot"].candidate.pass_rate == 0.75
    assert rows["rough"].candidate and rows["rough"].candidate.pass_rate == 0.25
    h.apply()
    assert h.remote.chat_calls == calls  # nothing was evaluated twice


def test_editing_a_case_plans_evaluation_only_and_never_retraining(h: Evals) -> None:
    h.answers = [knows(4), knows(4)]
    h.apply()
    creates = h.remote.creates
    h.ws.write("evals/cases.jsonl", "".join(case_line(q, a) for q, a in CASES[:3]) + case_line("q question 3?", "x"))
    plan, _ = h.plan()
    assert actions(plan) == [("bot", Action.EVALUATE), ("rough", Action.EVALUATE)]
    _, state = h.apply()
    assert h.remote.creates == creates
    run = state.experiments["bot"].current_run
    assert run is not None and [e.pass_rate for e in run.evals] == [1.0, 0.75]
    assert not h.plan()[0].has_changes


def test_a_retrain_that_regresses_is_blocked_with_figures_and_one_that_passes_moves_the_alias(h: Evals) -> None:
    h.answers = [knows(3), knows(1)]
    _, state = h.apply()
    first = state.experiments["bot"].current
    h.ws.experiment("bot", (h.ws.root / "experiments/bot.yaml").read_text() + "seed: 5\n")
    h.answers = [knows(2)]  # 0.50: passes min_pass_rate 0.5, but below prod's 0.75
    _, state = h.apply()
    assert state.experiments["bot"].aliases["prod"].job_id == first
    blocked = [e for e in h.events if isinstance(e, ev.PromotionBlocked)]
    assert blocked and blocked[0].figures == "regression: 0.50 < 0.75; prod holds 0.75"
    plan, _ = h.plan()
    assert not plan.has_changes
    assert [c.promote.figures for c in plan.blocked if c.promote] == ["regression: 0.50 < 0.75; prod holds 0.75"]
    row = next(r for r in plan.evals if r.experiment == "bot")
    assert row.delta == -0.25 and [f.label for f in row.flips] == ["q question 2?"]
    h.ws.experiment("bot", (h.ws.root / "experiments/bot.yaml").read_text() + "suffix: better\n")
    h.answers = [knows(4)]
    _, state = h.apply()
    assert state.experiments["bot"].aliases["prod"].job_id == state.experiments["bot"].current != first
    # Pinning points the alias back at the first run, as a reviewed change.
    text = (
        (h.ws.root / "experiments/bot.yaml")
        .read_text()
        .replace("  when: {suite: answers, min_pass_rate: 0.5, no_regression: true}\n", f"  pin: {first}\n")
    )
    h.ws.experiment("bot", text)
    plan, _ = h.plan()
    assert actions(plan) == [("bot", Action.PROMOTE)]
    _, state = h.apply()
    assert state.experiments["bot"].aliases["prod"].job_id == first
    assert not h.plan()[0].has_changes


def test_a_judge_answering_nonsense_counts_as_an_error_and_the_apply_completes(h: Evals) -> None:
    h.ws.write(
        "evals/answers.yaml",
        SUITE + "  - {type: judge, judge: {model: grader, rubric: Is it terse?}}\n",
    )
    h.remote.replies["grader"] = lambda messages: "I refuse to grade. Turtles!"
    h.answers = [knows(4), knows(4)]
    _, state = h.apply()
    result = state.experiments["bot"].current_run.evals[0]  # type: ignore[union-attr]
    assert (result.cases, result.errors, result.passed, result.failed, result.pass_rate) == (4, 4, 0, 0, None)
    assert "prod" not in state.experiments["bot"].aliases  # no pass rate, no promotion


def test_without_waiting_evals_are_deferred_and_planned_again(h: Evals) -> None:
    h.answers = [knows(4), knows(4)]
    h.apply(wait=False)
    assert {e.what for e in h.events if isinstance(e, ev.EvaluationDeferred)} == {"answers", "bot@prod"}
    plan, _ = h.plan()
    assert ("bot", Action.EVALUATE) in actions(plan)


def test_the_pull_request_shows_the_eval_table_flips_and_the_blocked_promotion(h: Evals) -> None:
    from test_render_golden import check, plain

    from runner.views.plan import plan_markdown, plan_text

    h.answers = [knows(3), knows(1)]
    h.apply()
    h.ws.experiment("bot", (h.ws.root / "experiments/bot.yaml").read_text() + "seed: 5\n")
    h.ws.experiment("rough", (h.ws.root / "experiments/rough.yaml").read_text().replace("seed: 2", "seed: 3"))
    pending, _ = h.plan()
    check("plan-evals-pending.md", plan_markdown(pending))
    h.answers = [knows(2), knows(2)]
    h.apply()
    plan, _ = h.plan()
    check("plan-evals-blocked.md", plan_markdown(plan))
    check("plan-evals-blocked.txt", plain(plan_text(plan)))


def test_the_report_lists_each_runs_results_and_the_aliases_it_holds(h: Evals) -> None:
    from runner.views.evals import report_tables
    from runner.views.report_html import report_html

    h.answers = [knows(3), knows(1)]
    _, state = h.apply()
    tables = report_tables(state)
    bot = state.experiments["bot"].current
    assert tables["bot"].rows[0][:2] == (bot, "answers") and tables["bot"].rows[0][3:7] == ("0.75", "3", "1", "0")
    assert tables["bot"].rows[0][-1] == "bot@prod"
    assert tables["rough"].rows[-1][0] == "base" and tables["rough"].rows[-1][3] == "n/a"
    from runner.report import gather_report

    doc = gather_report("test-ws", "local", state, h.plan()[1].desired, None, lambda run: None, now=0, evals=tables)
    assert "bot@prod" in report_html(doc)


def _fixed_alias_times(store: StateStore, since: int) -> None:
    """Aliases record when they moved (the clock at apply); a fixed time keeps the rendered output exact."""
    from dataclasses import replace

    state = store.load_or_new("local")
    for es in state.experiments.values():
        aliases = {a: replace(r, since=since) for a, r in es.aliases.items()}
        state = state.with_experiment(replace(es, aliases=aliases))
    store.save(state)


def cli_out(ws: Workspace, *args: str) -> str:
    from click.testing import CliRunner

    from runner.cli import cli

    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_show_and_status_give_each_runs_results_and_who_holds_the_alias(h: Evals) -> None:
    from test_render_golden import check

    h.answers = [knows(3), knows(1)]
    _, state = h.apply()
    first = state.experiments["bot"].current
    h.ws.experiment("bot", (h.ws.root / "experiments/bot.yaml").read_text() + "seed: 5\n")
    h.answers = [knows(2)]  # blocked: prod stays on the first run
    _, state = h.apply()
    second = state.experiments["bot"].current
    assert first and second and second != first
    _fixed_alias_times(h.store, 1_800_000_000)

    doc = json.loads(cli_out(h.ws, "show", "bot", "--json", "--offline"))
    old, new = doc["runs"]
    assert [(a["alias"], a["since"], a["scores"]) for a in old["aliases"]] == [
        ("prod", 1_800_000_000, {"answers": 0.75})
    ]
    assert new["aliases"] == [] and doc["aliases"][0]["job_id"] == first
    [result] = new["evals"]
    assert (result["suite"], result["pass_rate"], result["passed"], result["failed"], result["errors"]) == (
        "answers",
        0.5,
        2,
        2,
        0,
    )
    assert result["baseline"]["available"] is False and result["baseline"]["model"] == "local/tiny"
    lines = [line.strip() for line in cli_out(h.ws, "show", "bot", "--offline").splitlines()]
    evals = [line for line in lines if line.startswith(("eval ", "@ "))]
    assert evals == [
        "eval answers: pass rate 0.75 (3 passed, 1 failed, 0 errors of 4 cases); base local/tiny n/a",
        "@ holds bot@prod since 2027-01-15 08:00 (answers 0.75)",
        "eval answers: pass rate 0.50 (2 passed, 2 failed, 0 errors of 4 cases); base local/tiny n/a",
    ]

    rows = {r["experiment"]: r for r in json.loads(cli_out(h.ws, "status", "--json", "--offline"))["experiments"]}
    assert rows["bot"]["evals"] == {"answers": 0.5} and rows["rough"]["evals"] == {"answers": 0.25}
    assert [(a["alias"], a["job_id"], a["scores"]) for a in rows["bot"]["aliases"]] == [
        ("prod", first, {"answers": 0.75})
    ]
    assert "aliases" not in rows["rough"]
    text = cli_out(h.ws, "status", "--offline")
    assert f"answers 0.50  prod → {first} (0.75)" in text and "answers 0.25  -" in text
    check("status-evals.md", cli_out(h.ws, "status", "--markdown", "--offline"))
