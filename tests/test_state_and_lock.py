"""State documents are written atomically with a backup and never hold secrets; the lock names its holder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from workspaces import Workspace

from runner import lock
from runner.cli import cli
from runner.diagnostics import StateError
from runner.state import ExperimentState, FileRecord, Run, State, StateStore


def sample_state() -> State:
    state = State.new("local").with_file("ab" * 32, FileRecord("file-1", 10, "x.jsonl", 1))
    state = state.with_experiment(ExperimentState("marv", "h", {"description": "d"}))
    return state.with_run("marv", Run("ftjob-1", "t" * 64, {"model": "local/tiny"}, "running", 5))


def test_round_trip_and_serial_and_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state" / "local.json")
    assert store.load() is None
    first = store.save(sample_state())
    assert first.serial == 1
    assert store.load() == first
    second = store.save(first.with_experiment(ExperimentState("other", "m", {})))
    assert second.serial == 2 and second.lineage == first.lineage
    assert State.from_dict(json.loads(store.backup_path.read_text())) == first
    assert not [p for p in store.path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_unreadable_state_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        StateStore(path).load()


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=4))
def test_state_json_round_trips_any_metadata(meta: dict[str, str]) -> None:
    state = sample_state().with_experiment(ExperimentState("m", "h", meta))
    assert State.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_lock_is_exclusive_and_names_holder(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "local.lock"
    with lock.hold(path, "apply") as info:
        with pytest.raises(lock.LockHeld) as e, lock.hold(path, "apply"):
            pass
        assert info.id in str(e.value.diagnostics[0].hint)
        assert str(os.getpid()) in str(e.value)
        assert not e.value.stale
    assert not path.exists()


def _hold_in_child(path: Path, then: str) -> subprocess.Popen[str]:
    """A real process that takes the lock, prints its id, then runs `then` (e.g. dies, or sleeps)."""
    code = (
        "import os, sys, time; from pathlib import Path; from runner import lock\n"
        f"cm = lock.hold(Path({str(path)!r}), 'apply'); info = cm.__enter__(); print(info.id, flush=True)\n{then}\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_the_lock_of_a_dead_holder_is_taken_over_with_a_warning(workspace: Workspace) -> None:
    path = workspace.root / ".ftrun" / "locks" / "local.lock"
    child = _hold_in_child(path, "os._exit(0)")  # dies without releasing it
    assert child.stdout is not None
    child.stdout.readline()
    child.wait()
    assert path.exists()
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert f"took over the state lock left by pid {child.pid}" in result.output
    assert not path.exists()  # released after the apply


def test_a_live_holder_refuses_with_its_name_and_the_unlock_command(workspace: Workspace) -> None:
    path = workspace.root / ".ftrun" / "locks" / "local.lock"
    child = _hold_in_child(path, "time.sleep(60)")
    try:
        assert child.stdout is not None
        lock_id = child.stdout.readline().strip()
        result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "apply", "--auto-approve"])
        assert result.exit_code == 1
        assert f"pid {child.pid}" in result.output and f"ftrun force-unlock {lock_id}" in result.output
        assert not (workspace.root / "state" / "local.json").exists()
    finally:
        child.kill()
        child.wait()


def test_a_lock_from_another_host_is_never_taken_over(workspace: Workspace) -> None:
    path = workspace.root / ".ftrun" / "locks" / "local.lock"
    path.parent.mkdir(parents=True)
    info = {"id": "abc", "pid": 1, "host": "build-agent-7", "created": "2026-01-01T00:00:00Z", "operation": "apply"}
    path.write_text(json.dumps(info))
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "apply", "--auto-approve"])
    assert result.exit_code == 1
    assert "another host" in result.output and "build-agent-7" in result.output
    assert "ftrun force-unlock abc" in result.output
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "force-unlock", "wrong-id"])
    assert result.exit_code == 1 and "does not match" in result.output
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "force-unlock", "abc"])
    assert result.exit_code == 0 and not path.exists()


def test_an_empty_lock_file_is_a_dead_holder_not_pid_minus_one(workspace: Workspace) -> None:
    path = workspace.root / ".ftrun" / "locks" / "local.lock"
    path.parent.mkdir(parents=True)
    path.write_text("")  # its writer died between creating and writing it
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "died while taking the lock" in result.output and "pid -1" not in result.output


def test_state_never_holds_the_api_key(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes import FakeProvider

    from runner import pipeline
    from runner.apply import Applier, Silent
    from runner.plan import make_plan
    from runner.workspace import load_workspace

    secret = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    ws = load_workspace(workspace.root)
    loaded = pipeline.load(ws, ws.target())
    store = StateStore(ws.state_path(ws.target()))
    remote = FakeProvider()
    state = store.load_or_new("local")
    plan = make_plan(
        loaded.desired, state, pipeline.snapshot(remote, state, ws), target="local", endpoint="x", workspace=ws.name
    )
    Applier(store, remote, ws.name, {d.experiment.name: d for d in loaded.desired}, Silent(), state).apply(plan)
    assert secret not in store.path.read_text()
    assert secret not in json.dumps(plan.to_dict())
