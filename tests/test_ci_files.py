"""The CI examples and the pre-commit hook the repository ships: they parse, they call only ftrun commands and
options that exist, and pre-commit itself runs the hook."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runner.cli import cli

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_OPTIONS_WITH_VALUE = {"-C", "-t", "--target"}
GLOBAL_FLAGS = {"--no-color", "--color"}
SHELL_PUNCTUATION = "();<>|&"


def ftrun_calls(script: str) -> list[tuple[str, list[str]]]:
    """Each `ftrun COMMAND [options]` in a shell script (ftrun as a command, not as an argument): the command and
    the options it passes."""
    calls = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
        for i, word in enumerate(words):
            if word != "ftrun" or (i > 0 and not set(words[i - 1]) <= set(SHELL_PUNCTUATION)):
                continue
            rest = words[i + 1 :]
            while rest and (rest[0] in GLOBAL_FLAGS or rest[0] in GLOBAL_OPTIONS_WITH_VALUE):
                rest = rest[2:] if rest[0] in GLOBAL_OPTIONS_WITH_VALUE else rest[1:]
            assert rest, line
            end = next((j for j, w in enumerate(rest) if set(w) <= set(SHELL_PUNCTUATION)), len(rest))
            calls.append((rest[0], [w.split("=")[0] for w in rest[1:end] if w.startswith("-")]))
    return calls


def scripts(node: Any) -> list[str]:
    """Every shell script in a CI document: GitHub's `run:` and GitLab's script lists."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                found += [v for v in value if isinstance(v, str)]
            else:
                found += scripts(value)
    elif isinstance(node, list):
        for value in node:
            found += scripts(value)
    return found


def check_documented(calls: list[tuple[str, list[str]]]) -> None:
    for command, options in calls:
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, f"`ftrun {command}` is no ftrun command"
        for option in options:
            assert option in result.output, f"`ftrun {command}` has no option {option}"


def test_the_github_workflow_plans_comments_and_applies_one_at_a_time() -> None:
    doc = yaml.safe_load((ROOT / "examples" / "github" / "ftrun.yml").read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    plan, apply = doc["jobs"]["plan"], doc["jobs"]["apply"]
    plan_calls = ftrun_calls("\n".join(scripts(plan)))
    assert ("validate", []) in plan_calls
    assert ("plan", ["--no-color", "--target", "--markdown", "--out"]) not in plan_calls  # globals are not options
    assert ("plan", ["--markdown", "--out"]) in plan_calls
    uses = [s.get("uses", "") for s in plan["steps"]]
    assert any(u.startswith("marocchino/sticky-pull-request-comment@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    apply_calls = ftrun_calls("\n".join(scripts(apply)))
    assert ("plan", ["--out"]) in apply_calls and ("apply", []) in apply_calls and ("report", ["-o"]) in apply_calls
    assert apply["concurrency"]["cancel-in-progress"] is False and "apply" in apply["concurrency"]["group"]
    assert apply["permissions"]["contents"] == "write"
    commit = next(s for s in apply["steps"] if "git push" in s.get("run", ""))
    assert commit["if"] == "always()" and "git add state/" in commit["run"]
    check_documented(plan_calls + apply_calls)


def test_the_gitlab_pipeline_calls_only_ftrun_commands_that_exist() -> None:
    doc = yaml.safe_load((ROOT / "examples" / "gitlab" / ".gitlab-ci.yml").read_text())
    calls = ftrun_calls("\n".join(scripts(doc)))
    assert {c for c, _ in calls} == {"validate", "plan", "apply", "status"}
    assert doc["apply"]["resource_group"]
    check_documented(calls)


def test_the_call_finder_sees_options_and_rejects_unknown_ones() -> None:
    script = 'ftrun -t "$T" --no-color plan --markdown --out x.json > p.md\npip install ftrun && ftrun status'
    assert ftrun_calls(script) == [("plan", ["--markdown", "--out"]), ("status", [])]
    with pytest.raises(AssertionError, match="has no option --no-such-flag"):
        check_documented([("plan", ["--no-such-flag"])])
    with pytest.raises(AssertionError, match="is no ftrun command"):
        check_documented([("deploy", [])])


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_pre_commit_runs_the_validate_hook(tmp_path: Path) -> None:
    """`pre-commit try-repo` installs this repository as a hook and runs it on a workspace: passes, then fails on a
    spec with an unknown key, naming its file and line."""
    pre_commit = Path(sys.executable).with_name("pre-commit")
    assert pre_commit.exists() and shutil.which("git")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["ftrun-validate"] and hooks[0]["entry"] == "ftrun validate"
    ws = tmp_path / "ws"
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "init", "ws"])
    assert result.exit_code == 0, result.output
    _git(ws, "init", "-q")
    _git(ws, "add", ".")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(ROOT), "ftrun-validate", "--all-files"],
            cwd=ws,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    ok = try_repo()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ftrun validate" in ok.stdout and "Passed" in ok.stdout
    spec = ws / "experiments" / "example.yaml"
    spec.write_text(spec.read_text() + "n_epochs: 3\n")
    _git(ws, "add", ".")
    bad = try_repo()
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert "experiments/example.yaml:" in bad.stdout, bad.stdout
