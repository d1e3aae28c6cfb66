"""Mistakes in eval suites and in what experiments ask of them: one readable error at file:line, exit 1, state left
byte for byte, from `plan`, `apply` and `eval` alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from workspaces import Workspace

from runner.cli import cli
from runner.state import State, StateStore

GOOD_CASE = {
    "messages": [{"role": "user", "content": "Capital of France?"}],
    "assert": [{"type": "contains", "value": "Paris"}],
}


def line(case: object) -> str:
    return json.dumps(case) + "\n"


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    StateStore(workspace.root / "state" / "local.json").save(State.new("local"))
    workspace.write("evals/answers.yaml", "description: answers\ncases: evals/cases.jsonl\n")
    workspace.write("evals/cases.jsonl", line(GOOD_CASE) * 2)
    workspace.experiment("alpha", "description: first\ntraining_file: data/train.jsonl\nevals: [answers]\n")
    return workspace


BAD_REGEX = {**GOOD_CASE, "assert": [{"type": "regex", "value": "(Paris"}]}
CASES = {
    "unknown suite": (
        "experiments/alpha.yaml",
        "description: first\ntraining_file: data/train.jsonl\nevals: [answer]\n",
        "experiments/alpha.yaml:3",
        "unknown eval suite 'answer'",
    ),
    "unknown assertion type": (
        "evals/answers.yaml",
        "cases: evals/cases.jsonl\nassert:\n  - {type: contans, value: x}\n",
        "evals/answers.yaml:3",
        "did you mean 'contains'",
    ),
    "bad regex": ("evals/cases.jsonl", line(GOOD_CASE) + line(BAD_REGEX), "evals/cases.jsonl:2", "bad regex"),
    "case line not json": ("evals/cases.jsonl", line(GOOD_CASE) * 2 + "{not json\n", "evals/cases.jsonl:3", "not JSON"),
    "judge target missing": (
        "evals/answers.yaml",
        "cases: evals/cases.jsonl\nassert:\n  - {type: judge, judge: {model: m, target: nowhere, rubric: ok}}\n",
        "evals/answers.yaml:2",
        "target 'nowhere'",
    ),
    "gate on a suite not listed": (
        "experiments/alpha.yaml",
        "training_file: data/train.jsonl\nevals: [answers]\npromote:\n  alias: prod\n  when: {suite: other}\n",
        "experiments/alpha.yaml:3",
        "not one of this experiment's `evals`",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["eval"]])
def test_bad_eval_input_is_one_error_at_its_line(ws: Workspace, case: str, command: list[str]) -> None:
    path, text, where, message = CASES[case]
    ws.write(path, text)
    before = ws.state_bytes()
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *command])
    assert result.exit_code == 1, result.output
    assert where in result.output and message in result.output, result.output
    assert "Traceback" not in result.output
    assert ws.state_bytes() == before


def test_a_pin_to_an_unknown_job_is_an_error_at_the_promote_line(ws: Workspace) -> None:
    ws.experiment(
        "alpha", "training_file: data/train.jsonl\nevals: [answers]\npromote:\n  alias: prod\n  pin: ftjob-nope\n"
    )
    before = ws.state_bytes()
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "plan"])
    assert result.exit_code == 1
    assert "experiments/alpha.yaml:3" in result.output and "ftjob-nope" in result.output
    assert ws.state_bytes() == before


def test_an_alias_nobody_holds_yet_is_a_clear_error(ws: Workspace) -> None:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "output", "alpha@prod"])
    assert result.exit_code == 1 and "no experiment 'alpha'" in result.output


def test_a_saved_plan_is_stale_once_a_suite_it_evaluates_changed(ws: Workspace, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "plan", "--out", str(saved)])
    assert result.exit_code == 0, result.output
    ws.write(
        "evals/cases.jsonl", line(GOOD_CASE) + line({**GOOD_CASE, "assert": [{"type": "icontains", "value": "x"}]})
    )
    before = ws.state_bytes()
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "apply", str(saved)])
    assert result.exit_code == 1 and "stale" in result.output, result.output
    assert ws.state_bytes() == before
