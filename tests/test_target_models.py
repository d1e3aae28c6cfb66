"""The target knows what it accepts: validate judges base models offline, plan asks the target before any upload."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
from click.testing import CliRunner
from openai import OpenAI
from workspaces import Workspace

from runner.cli import cli
from runner.server import create_app
from runner.target_models import OPENAI_ALIASES, OPENAI_FINE_TUNABLE, local_presets


def run(ws: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws), "--no-color", *args])
    return result.exit_code, result.output


def server_files(ws: Path) -> list[str]:
    app = create_app(ws / ".ftrun" / "server", start_worker=False)
    client = OpenAI(
        base_url="http://local.invalid/v1",
        api_key="x",
        http_client=httpx2.Client(transport=httpx2.WSGITransport(app=app)),
    )
    return [f.id for f in client.files.list()]


def test_a_misspelt_model_fails_plan_with_its_line_and_a_suggestion_and_nothing_is_uploaded(
    workspace: Workspace,
) -> None:
    ws = workspace.root
    workspace.experiment("beta", "description: second\ntraining_file: data/train.jsonl\nmodel: local/tiyn\n")
    code, out = run(ws, "plan")
    assert code == 1, out
    assert "experiments/beta.yaml:3" in out and "target 'local' has no model 'local/tiyn'" in out
    assert "did you mean 'local/tiny'?" in out
    code, out = run(ws, "apply", "--auto-approve")
    assert code == 1 and "has no model 'local/tiyn'" in out
    assert server_files(ws) == [] and not (ws / "state" / "local.json").exists()
    code, out = run(ws, "plan", "-s", "alpha")  # the selection leaves beta out: its model is not asked about
    assert code == 0 and "Plan: 1 to create" in out, out
    code, out = run(ws, "plan", "--json")
    [diag] = [d for d in json.loads(out)["diagnostics"] if d["check"] == "unknown-model"]
    assert diag["file"] == "experiments/beta.yaml" and diag["line"] == 3 and diag["severity"] == "error"


def test_validate_knows_the_models_of_each_kind_of_target_offline(workspace: Workspace) -> None:
    ws = workspace.root
    workspace.experiment("beta", "training_file: data/train.jsonl\nmodel: local/tiyn\n")
    workspace.experiment("gamma", "training_file: data/train.jsonl\nmodel: gpt-4.1-mini-2025-04-14\n")
    code, out = run(ws, "validate")
    assert code == 1
    assert "experiments/beta.yaml:2" in out and "not a preset of the built-in server" in out
    assert "did you mean 'local/tiny'?" in out
    assert "experiments/gamma.yaml:2" in out and "the built-in server trains open-weights models only" in out

    (ws / "ftrun.yaml").write_text("workspace: test-ws\ntargets:\n  openai: {kind: openai}\ndefaults: {seed: 1}\n")
    workspace.experiment("alpha", "training_file: data/train.jsonl\nmodel: gpt-4.1-mni\n")
    workspace.experiment("beta", "training_file: data/train.jsonl\nmodel: gpt-4o-mini\n")
    workspace.experiment("gamma", "training_file: data/train.jsonl\nmodel: o4-mini-2025-04-16\n")
    code, out = run(ws, "-t", "openai", "validate", "--json")
    found = {d["experiment"]: d for d in json.loads(out)["diagnostics"] if d["check"] == "unknown-model"}
    assert found["alpha"]["severity"] == "warning" and found["alpha"]["hint"] == "did you mean 'gpt-4.1-mini'?"
    assert "beta" not in found  # an alias OpenAI resolves to a snapshot it fine-tunes
    assert found["gamma"]["severity"] == "error" and "with reinforcement, not supervised" in found["gamma"]["message"]

    # `ftrun serve` (flavor ftrun) is the built-in server too: its presets are known offline.
    (ws / "ftrun.yaml").write_text(
        "workspace: test-ws\ntargets:\n  mine: {kind: openai, flavor: ftrun, base_url: 'http://127.0.0.1:1/v1'}\n"
    )
    workspace.experiment("alpha", "training_file: data/train.jsonl\nmodel: local/tiyn\n")
    code, out = run(ws, "-t", "mine", "validate")
    assert code == 1 and "experiments/alpha.yaml:2: 'local/tiyn' is not a preset of the built-in server" in out, out


def test_the_tables_agree_with_themselves_and_with_the_server() -> None:
    from runner.server.training.presets import PRESETS

    assert set(OPENAI_ALIASES.values()) <= set(OPENAI_FINE_TUNABLE)
    assert local_presets() == tuple(sorted(PRESETS))


def test_over_http_the_sdk_asks_a_standalone_server_for_its_models(workspace: Workspace, tmp_path: Path) -> None:
    from processes import serving

    with serving(tmp_path / "server") as url:
        workspace.write(
            "ftrun.yaml",
            "workspace: test-ws\ndefault_target: mine\ndefaults:\n  model: local/tiny\n"
            f"targets:\n  mine: {{kind: openai, base_url: '{url}', api_key_env: NO_SUCH_VAR, free: true}}\n",
        )
        workspace.experiment("beta", "training_file: data/train.jsonl\nmodel: local/tin\n")
        result = CliRunner().invoke(
            cli, ["-C", str(workspace.root), "--no-color", "plan"], env={"NO_SUCH_VAR": "unused"}
        )
        assert result.exit_code == 1, result.output
        assert "experiments/beta.yaml:2: target 'mine' has no model 'local/tin'" in result.output
        assert "did you mean 'local/tiny'?" in result.output
        client = OpenAI(base_url=url, api_key="unused")
        assert list(client.files.list()) == []


def test_a_misspelt_default_model_is_reported_once_at_its_line_in_ftrun_yaml(workspace: Workspace) -> None:
    ws = workspace.root
    (ws / "ftrun.yaml").write_text("workspace: test-ws\ndefaults:\n  model: local/tiyn\n  seed: 1\n")
    code, out = run(ws, "plan")
    assert code == 1
    assert out.count("ftrun.yaml:3: target 'local' has no model 'local/tiyn' (the default model in ftrun.yaml)") == 1
    assert "did you mean 'local/tiny'?" in out and server_files(ws) == []
