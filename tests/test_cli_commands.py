"""Commands that need no training: init, validate, plan output formats, status, output, schema."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from runner.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--no-color", *args])
    return result.exit_code, result.output


def test_init_creates_a_workspace_that_validates_and_plans(tmp_path: Path) -> None:
    code, out = run("-C", str(tmp_path), "init", "ws")
    assert code == 0, out
    ws = tmp_path / "ws"
    for rel in ("ftrun.yaml", "experiments/example.yaml", "data/example.jsonl", "state/.gitkeep", ".gitignore"):
        assert (ws / rel).exists(), rel
    assert ".ftrun/" in (ws / ".gitignore").read_text()
    code, out = run("-C", str(ws), "validate")
    assert code == 0, out
    assert "example: data/example.jsonl (10 examples" in out
    code, out = run("-C", str(ws), "plan", "--detailed-exitcode")
    assert code == 2, out
    assert "Plan: 1 to create" in out
    code, out = run("-C", str(ws), "init")
    assert code == 1 and "already exists" in out


def test_plan_formats_and_saved_plan(tmp_path: Path) -> None:
    run("-C", str(tmp_path), "init")
    code, out = run("-C", str(tmp_path), "plan", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["summary"]["create"] == 1 and doc["has_changes"] is True
    [change] = doc["changes"]
    assert change["action"] == "create" and change["estimate"]["usd"] == 0
    code, out = run("-C", str(tmp_path), "plan", "--markdown")
    assert code == 0 and "| `+` | `example` | create |" in out
    code, _ = run("-C", str(tmp_path), "plan", "--out", str(tmp_path / "saved.json"))
    assert code == 0 and json.loads((tmp_path / "saved.json").read_text())["changes"]
    (tmp_path / "experiments" / "example.yaml").write_text(
        (tmp_path / "experiments" / "example.yaml").read_text().replace("n_epochs: auto", "n_epochs: 2")
    )
    code, out = run("-C", str(tmp_path), "apply", str(tmp_path / "saved.json"))
    assert code == 1 and "is stale" in out
    assert not (tmp_path / "state" / "local.json").exists()


def test_read_commands_on_an_empty_state(tmp_path: Path) -> None:
    run("-C", str(tmp_path), "init")
    code, out = run("-C", str(tmp_path), "status", "--json")
    assert code == 0 and json.loads(out)["experiments"] == []
    code, out = run("-C", str(tmp_path), "output", "example")
    assert code == 1 and "no experiment 'example' in the state" in out
    code, out = run("-C", str(tmp_path), "-t", "nowhere", "status")
    assert code == 1 and "unknown target 'nowhere'" in out
    code, out = run("-C", str(tmp_path), "schema", "workspace")
    assert code == 0 and json.loads(out)["title"].startswith("ftrun workspace")


def test_missing_api_key_names_the_variable(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run("-C", str(tmp_path), "init")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out = run("-C", str(tmp_path), "-t", "openai", "plan")
    assert code == 1
    assert "OPENAI_API_KEY is not set" in out and "Traceback" not in out


def test_serve_on_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = run("-C", str(tmp_path), "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and f"{port} is in use" in out and "Traceback" not in out


def test_serve_refuses_a_public_address_without_a_key(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FTRUN_SERVER_API_KEY", raising=False)
    code, out = run("-C", str(tmp_path), "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "API key" in out


def test_damaged_state_is_a_clear_error(tmp_path: Path) -> None:
    run("-C", str(tmp_path), "init")
    for text in ("[]", '{"format_version": 1, "lineage": "x", "target": "local", "serial": "many"}'):
        (tmp_path / "state" / "local.json").write_text(text)
        code, out = run("-C", str(tmp_path), "status")
        assert code == 1 and "unreadable" in out and "Traceback" not in out


def test_a_workspace_without_a_name_is_warned_about(tmp_path: Path) -> None:
    run("-C", str(tmp_path), "init")
    config = tmp_path / "ftrun.yaml"
    assert "workspace: " in config.read_text()
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("workspace:")))
    code, out = run("-C", str(tmp_path), "validate")
    assert code == 0 and "names no `workspace:`" in out
