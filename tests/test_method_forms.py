"""`method:` in OpenAI's request shape normalises to the same experiment, and the same fingerprint, as ftrun's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from workspaces import Workspace, chat_lines

from runner import pipeline
from runner.cli import cli
from runner.workspace import load_workspace

FTRUN_FORM = "method:\n  type: {kind}\n  hyperparameters:\n    n_epochs: 3\n"
OPENAI_FORM = "method:\n  type: {kind}\n  {kind}:\n    hyperparameters:\n      n_epochs: 3\n"


def preference_lines(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": f"question {i}?"}]},
                "preferred_output": [{"role": "assistant", "content": f"good answer {i}."}],
                "non_preferred_output": [{"role": "assistant", "content": f"bad answer {i}."}],
            }
        )
        + "\n"
        for i in range(n)
    )


def hashes(ws: Workspace) -> dict[str, tuple[str, dict]]:  # type: ignore[type-arg]
    workspace = load_workspace(ws.root)
    loaded = pipeline.load(workspace, workspace.target())
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    return {d.experiment.name: (d.training_hash, d.experiment.method.to_dict()) for d in loaded.desired}


def test_both_forms_are_the_same_experiment_and_fingerprint(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write("ftrun.yaml", "workspace: forms\ndefaults: {model: local/tiny}\n")
    ws.write("data/supervised.jsonl", chat_lines(12))
    ws.write("data/dpo.jsonl", preference_lines(12))
    for kind in ("supervised", "dpo"):
        spec = f"training_file: data/{kind}.jsonl\nsuffix: x\n"
        ws.experiment(f"{kind}-ours", spec + FTRUN_FORM.format(kind=kind))
        ws.experiment(f"{kind}-openai", spec + OPENAI_FORM.format(kind=kind))
    found = hashes(ws)
    assert found["supervised-ours"] == found["supervised-openai"]
    assert found["dpo-ours"] == found["dpo-openai"]
    assert found["supervised-ours"][1] == {"type": "supervised", "hyperparameters": {"n_epochs": 3}}
    assert found["supervised-ours"][0] != found["dpo-ours"][0]


def test_reinforcement_settings_nested_under_its_name(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write(
        "ftrun.yaml",
        "workspace: forms\ntargets:\n  openai: {kind: openai}\ndefaults: {model: o4-mini-2025-04-16}\n",
    )
    ws.write("data/train.jsonl", chat_lines(12))
    grader = "{type: string_check, name: g, input: '{{sample.output_text}}', reference: x, operation: eq}"
    ws.experiment(
        "ours", f"training_file: data/train.jsonl\nsuffix: x\nmethod:\n  type: reinforcement\n  grader: {grader}\n"
    )
    ws.experiment(
        "theirs",
        "training_file: data/train.jsonl\nsuffix: x\nmethod:\n  type: reinforcement\n"
        f"  reinforcement:\n    grader: {grader}\n",
    )
    workspace = load_workspace(ws.root)
    loaded = pipeline.load(workspace, workspace.target("openai"))  # the built-in server trains no reinforcement
    by = {d.experiment.name: d for d in loaded.desired}
    assert by["ours"].training_hash == by["theirs"].training_hash
    assert by["theirs"].experiment.method.to_api()["reinforcement"]["grader"]["type"] == "string_check"


def test_defaults_in_openai_form_and_errors_at_the_line_as_written(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write(
        "ftrun.yaml",
        "workspace: forms\ndefaults:\n  model: local/tiny\n  method:\n    type: supervised\n"
        "    supervised:\n      hyperparameters: {n_epochs: 2}\n",
    )
    ws.write("data/train.jsonl", chat_lines(12))
    ws.experiment("a", "training_file: data/train.jsonl\n")
    assert hashes(ws)["a"][1] == {"type": "supervised", "hyperparameters": {"n_epochs": 2}}

    ws.experiment(
        "a",
        "training_file: data/train.jsonl\nmethod:\n  type: supervised\n  supervised:\n    hyperparameters:\n"
        "      n_epochs: 3\n      n_epoch: 4\n",
    )
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "validate"])
    assert result.exit_code == 1 and "experiments/a.yaml:7" in result.output, result.output
    ws.experiment(
        "a",
        "training_file: data/train.jsonl\nmethod:\n  type: supervised\n  hyperparameters: {n_epochs: 3}\n"
        "  supervised:\n    hyperparameters: {n_epochs: 3}\n",
    )
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", "plan"])
    assert result.exit_code == 1 and "experiments/a.yaml:6" in result.output
    assert "hyperparameters is given both beside `type` and under `supervised:`" in result.output
