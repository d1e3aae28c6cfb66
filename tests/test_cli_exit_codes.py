"""Exit codes CI can trust, Ctrl-C that says what it left, internal errors as one line and a log, no secret shown."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from processes import FTRUN, ftrun, ok, serving
from workspaces import Workspace

from runner import pipeline
from runner.cli import cli
from runner.state import State, StateStore


def run(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws.root), "--no-color", *args], env=env)
    return result.exit_code, result.output


def test_a_usage_error_never_exits_2_which_means_changes_present(workspace: Workspace) -> None:
    code, out = run(workspace, "plan", "--no-such-flag", "--detailed-exitcode")
    assert code == 1 and "No such option" in out
    process = ftrun(workspace.root, "plan", "--no-such-flag", "--detailed-exitcode")
    assert process.returncode == 1 and "No such option" in process.stderr
    assert ftrun(workspace.root, "no-such-command").returncode == 1
    assert ftrun(workspace.root, "plan", "--detailed-exitcode").returncode == 2  # the real meaning of 2


def test_an_internal_error_is_one_line_and_a_log_with_the_traceback_and_no_secret(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "sk-live-" + "q" * 32
    log = tmp_path / "ftrun.log"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"unexpected state while loading (key {secret}, url http://me:pa55word@host/v1)")

    monkeypatch.setattr(pipeline, "load", broken)
    code, out = run(workspace, "validate", env={"FTRUN_LOG": str(log), "OPENAI_API_KEY": secret})
    assert code == 1
    assert out.strip().count("\n") == 0, out  # one line
    assert "RuntimeError" in out and str(log) in out and "Traceback" not in out
    text = log.read_text()
    assert "Traceback" in text and "def broken" not in out and "in broken" in text
    assert secret not in text and "pa55word" not in text and "***" in text


def test_a_password_in_base_url_is_never_shown(workspace: Workspace, tmp_path: Path) -> None:
    with serving(tmp_path / "server") as url:
        authority = url.replace("http://", "http://deploy:hunter2secret@")
        workspace.write(
            "ftrun.yaml",
            f"workspace: test-ws\ndefault_target: mine\ndefaults:\n  model: local/tiny\n"
            f"targets:\n  mine: {{kind: openai, base_url: '{authority}', api_key_env: NO_SUCH_VAR, free: true}}\n",
        )
        env = {"NO_SUCH_VAR": "unused-key"}
        for args in (("plan",), ("plan", "--json"), ("plan", "--markdown")):
            result = ftrun(workspace.root, *args, env=env)
            assert "hunter2secret" not in result.stdout + result.stderr, args
            assert "deploy:***@" in result.stdout or args == ("plan", "--markdown")
    # Unreachable: the connection error names the endpoint, without its password.
    result = ftrun(workspace.root, "plan", env=env)
    assert result.returncode == 1 and "hunter2secret" not in result.stdout + result.stderr


def test_render_with_errors_writes_the_bytes_but_exits_1(workspace: Workspace, tmp_path: Path) -> None:
    workspace.write("data/train.jsonl", '{"messages": [{"role": "user", "content": "no answer"}]}\n' * 12)
    out_file = tmp_path / "out.jsonl"
    code, out = run(workspace, "render", "alpha", "-o", str(out_file))
    assert code == 1 and "error" in out
    assert out_file.read_bytes() == (workspace.root / "data" / "train.jsonl").read_bytes()


def test_apply_json_prints_the_plan_then_what_happened_as_json_lines(workspace: Workspace) -> None:
    code, out = run(workspace, "apply", "--json")
    assert code == 1 and "--auto-approve" in out
    code, out = run(workspace, "apply", "--json", "--auto-approve")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "plan" and kinds[-1] == "apply_complete"
    assert kinds.count("job_created") == 2 and kinds.count("file_uploaded") == 1
    assert lines[-1]["counts"]["created"] == 2 and lines[-1]["counts"]["uploaded"] == 1
    # Adopted, not created: the closing line counts what happened, not what the plan said.
    state = StateStore(workspace.root / "state" / "local.json").load()
    assert state is not None
    StateStore(workspace.root / "state" / "local.json").save(State.new("local"))  # state lost, jobs still there
    code, out = run(workspace, "apply", "--auto-approve")
    assert code == 0 and "0 created" in out and "2 adopted" in out, out
    code, out = run(workspace, "destroy", "--auto-approve", "--json")
    assert code == 0
    last = json.loads(out.splitlines()[-1])
    assert last == {"type": "destroy_complete", "counts": last["counts"]} and last["counts"]["cancelled"] == 2


def _pty_run(args: list[str], until: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run `args` on a pseudo-terminal; once `until` appears, press Ctrl-C; return (exit code, before, after)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(args[0], args, {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    seen, before = b"", ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if not before and until.encode() in seen:
                    before = seen.decode(errors="replace")
                    seen = b""
                    time.sleep(0.3)
                    os.write(fd, b"\x03")  # Ctrl-C, as a terminal sends it
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), before, seen.decode(errors="replace")


def test_ctrl_c_at_the_prompt_exits_130_with_one_line_and_changes_nothing(workspace: Workspace) -> None:
    code, before, after = _pty_run([*FTRUN, "-C", str(workspace.root), "apply"], until="Enter a value")
    assert "Do you want to perform these actions?" in before
    assert code == 130, after
    text = re.sub(r"\x1b\[[0-9;]*m", "", after).replace("\r", "").replace("^C", "")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "nothing was changed" in lines[0], after
    assert not (workspace.root / "state" / "local.json").exists()
    assert not (workspace.root / ".ftrun" / "locks" / "local.lock").exists()


@pytest.mark.training
def test_ctrl_c_while_waiting_says_the_jobs_keep_running(workspace: Workspace) -> None:
    (workspace.root / "experiments" / "beta.yaml").unlink()
    args = [*FTRUN, "-C", str(workspace.root), "apply", "--auto-approve", "--wait"]
    code, before, after = _pty_run(args, until="created job", timeout=120)
    try:
        assert code == 130, before + after
        assert "the jobs keep running on the target" in after and "ftrun status" in after, after
        status = json.loads(ok(ftrun(workspace.root, "status", "--json")))
        assert status["experiments"][0]["status"] in ("validating_files", "queued", "running", "succeeded")
    finally:
        ftrun(workspace.root, "destroy", "--auto-approve")
