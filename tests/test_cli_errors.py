"""A user's mistakes: one readable error naming file and line, exit code 1, and state left byte for byte."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from workspaces import Workspace

from runner.cli import cli
from runner.state import State, StateStore


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    StateStore(workspace.root / "state" / "local.json").save(State.new("local"))
    return workspace


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args])
    return result.exit_code, result.output


CASES = {
    "malformed yaml": (
        "experiments/alpha.yaml",
        "description: first\ntraining_file: data/train.jsonl\nmethod: [supervised\nseed: 3\n",
        "experiments/alpha.yaml:4",
        "invalid YAML",
    ),
    "unknown key": (
        "experiments/alpha.yaml",
        "description: first\ntraining_file: data/train.jsonl\nsufix: abc\n",
        "experiments/alpha.yaml:3",
        "did you mean 'suffix'",
    ),
    "wrong type": (
        "experiments/alpha.yaml",
        "description: first\ntraining_file: data/train.jsonl\nseed: many\n",
        "experiments/alpha.yaml:3",
        "expected integer",
    ),
    "missing data file": (
        "experiments/alpha.yaml",
        "description: first\n\ntraining_file: data/nope.jsonl\n",
        "experiments/alpha.yaml:3",
        "data/nope.jsonl",
    ),
    "non-json data line": (
        "data/train.jsonl",
        None,
        "data/train.jsonl:3",
        "JSON",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_mistake_gives_one_error_with_file_and_line(ws: Workspace, case: str, command: str) -> None:
    rel, text, where, words = CASES[case]
    if text is None:
        lines = (ws.root / rel).read_text().splitlines(keepends=True)
        lines[2] = '{"messages": [oops\n'
        text = "".join(lines)
    ws.write(rel, text)
    before = ws.state_bytes()
    args = [command, "--auto-approve"] if command == "apply" else [command]
    code, out = run(ws, *args)
    assert code == 1, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert where in errors[0] and words in out, out
    assert "Traceback" not in out
    assert ws.state_bytes() == before


def test_two_experiments_with_one_name_name_both_files(ws: Workspace) -> None:
    ws.experiment("gamma", "name: alpha\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "validate")
    assert code == 1
    assert "experiments/alpha.yaml" in out and "experiments/gamma.yaml" in out


def test_validate_json_lists_findings(ws: Workspace) -> None:
    ws.write("experiments/alpha.yaml", "training_file: data/train.jsonl\nmethod: superviesd\n")
    code, out = run(ws, "validate", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False
    [d] = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert d["file"] == "experiments/alpha.yaml" and d["line"] == 2 and d["hint"] == "did you mean 'supervised'?"


def test_schema_command_prints_the_shipped_schema(ws: Workspace) -> None:
    code, out = run(ws, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "ftrun experiment" and "training_file" in schema["properties"]


def test_no_workspace_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "plan"])
    assert result.exit_code == 1
    assert "no ftrun.yaml" in result.output and "ftrun init" in result.output


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"messages": [{"role": "user", "content": {{ questoin | tojson }}}]}', "'questoin' is undefined"),
        ("{{ cycler.__init__.__globals__.os.environ }}", "unsafe"),
        ("{{ open('/etc/passwd').read() }}", "'open' is undefined"),
    ],
)
def test_bad_template_fails_apply_and_uploads_nothing(ws: Workspace, body: str, words: str) -> None:
    ws.write("templates/t.jsonl.j2", body + "\n")
    ws.write("data/q.csv", "question,answer\n" + "".join(f"q{i},a{i}\n" for i in range(12)))
    ws.experiment("alpha", "training_file:\n  template: templates/t.jsonl.j2\n  source: data/q.csv\n")
    before = ws.state_bytes()
    code, out = run(ws, "apply", "--auto-approve")
    assert code == 1, out
    assert "templates/t.jsonl.j2:1" in out and words in out
    assert ws.state_bytes() == before
    files = ws.root / ".ftrun" / "server" / "files"
    assert not files.exists() or not any(files.iterdir())


def test_mistakes_are_caught_beside_workspace_defaults(ws: Workspace) -> None:
    ws.write("ftrun.yaml", "workspace: test-ws\ndefaults:\n  model: local/tiny\n  seed: 3\n")
    ws.experiment("alpha", "mdoel: gpt-4o\ntraining_file: data/train.jsonl\n")
    ws.experiment("beta", "model: 5\ntraining_file: data/train.jsonl\n")
    code, out = run(ws, "validate")
    assert code == 1
    assert "experiments/alpha.yaml:1: unknown key 'mdoel'" in out and "did you mean 'model'" in out
    assert "experiments/beta.yaml:1: model: expected string" in out


def test_data_outside_the_workspace_is_refused(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"messages": []}\n')
    ws.experiment("alpha", f"training_file: ../{secret.name}\n")
    code, out = run(ws, "validate")
    assert code == 1 and "experiments/alpha.yaml:1" in out and "outside the workspace" in out
    ws.experiment("alpha", f"training_file: {secret}\n")
    code, out = run(ws, "validate")
    assert code == 1 and "outside the workspace" in out


def test_target_names_and_server_dirs_stay_inside(ws: Workspace) -> None:
    ws.write("ftrun.yaml", "targets:\n  ../evil:\n    kind: local\n")
    code, out = run(ws, "validate")
    assert code == 1 and "ftrun.yaml" in out
    ws.write("ftrun.yaml", "targets:\n  local:\n    kind: local\n    data_dir: ../elsewhere\n")
    code, out = run(ws, "validate")
    assert code == 1 and "ftrun.yaml:4" in out
