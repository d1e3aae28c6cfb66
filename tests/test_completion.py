"""Shell completion (click's `_FTRUN_COMPLETE`): commands, options, and experiment names read from the workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.shell_completion import BashComplete
from workspaces import Workspace

from runner.cli import cli


def complete(args: list[str], incomplete: str) -> list[str]:
    return [c.value for c in BashComplete(cli, {}, "ftrun", "_FTRUN_COMPLETE").get_completions(args, incomplete)]


def test_names_come_from_specs_and_state(workspace: Workspace) -> None:
    root = str(workspace.root)
    workspace.experiment("gamma", "name: renamed\ntraining_file: data/train.jsonl\n")  # `name:` wins over the stem
    workspace.write("state/local.json", json.dumps({"experiments": {"retired": {}}}))  # only in state
    assert complete(["-C", root, "show"], "") == ["alpha", "beta", "renamed", "retired"]
    assert complete(["-C", root, "logs"], "a") == ["alpha"]
    assert complete(["-C", root, "plan", "--retrain"], "b") == ["beta"]
    assert complete(["-C", root, "report", "alpha"], "") == ["alpha", "beta", "renamed", "retired"]
    assert "report" in complete([], "rep")


def test_outside_a_workspace_names_complete_to_nothing(tmp_path: Path) -> None:
    assert complete(["-C", str(tmp_path), "show"], "") == []


def test_the_shell_scripts_are_generated(tmp_path: Path) -> None:
    ftrun = Path(sys.executable).with_name("ftrun")
    for shell, needle in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        env = {**os.environ, "_FTRUN_COMPLETE": f"{shell}_source"}
        out = subprocess.run([str(ftrun)], env=env, capture_output=True, text=True, check=True).stdout
        assert needle in out and "_FTRUN_COMPLETE" in out, shell
