"""Failpoints: listed, each one a process can be killed at; and the temp file a killed state write leaves behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import failpoints
from runner.scaffold import create_workspace
from runner.state import State, StateStore

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
    )


def test_every_boundary_has_a_failpoint_before_and_after_and_the_names_are_listed() -> None:
    assert len(set(failpoints.ALL)) == len(failpoints.ALL)
    for call in ("file-upload", "upload-create", "upload-part", "upload-complete", "job-create", "job-cancel"):
        assert {f"{call}:before", f"{call}:after"} <= set(failpoints.ALL)
    assert {"model-delete:before", "model-delete:after", "job-created"} <= set(failpoints.ALL)
    assert {"state-write:before", "state-write:synced", "state-write:renamed"} <= set(failpoints.ALL)


def test_a_failpoint_kills_the_process_at_the_nth_time_it_is_reached() -> None:
    code = (
        "from runner.failpoints import failpoint\n"
        "for i in range(1, 4):\n"
        "    failpoint('job-created')\n"
        "    print('passed', i, flush=True)\n"
    )
    second = run_python(code, {failpoints.ENV: "state-write:before,job-created@2"})
    assert second.returncode == -9
    assert second.stdout.split("\n")[:1] == ["passed 1"] and "passed 2" not in second.stdout
    assert "failpoint job-created reached" in second.stderr
    unset = run_python(code, {failpoints.ENV: ""})
    assert unset.returncode == 0 and unset.stdout.count("passed") == 3


def test_a_name_missing_from_the_list_is_refused_while_failpoints_are_set() -> None:
    result = run_python("from runner.failpoints import failpoint; failpoint('no-such-point')", {failpoints.ENV: "x"})
    assert result.returncode == 1 and "not listed in runner.failpoints.ALL" in result.stderr


SAVE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from runner.state import State, StateStore\n"
    "store = StateStore(Path(sys.argv[1]))\n"
    "store.save(store.load_or_new('local'))\n"
)


def save_in_a_process(path: Path, point: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SAVE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, failpoints.ENV: point},
    )


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("point", ["state-write:before", "state-write:synced", "state-write:renamed"])
def test_a_state_write_killed_at_any_point_leaves_the_old_or_the_new_state(tmp_path: Path, point: str) -> None:
    path = tmp_path / "state" / "local.json"
    store = StateStore(path)
    first = store.save(State.new("local"))
    killed = save_in_a_process(path, point)
    assert killed.returncode == -9 and f"failpoint {point} reached" in killed.stderr
    serial = json.loads(path.read_text())["serial"]
    assert serial == (first.serial + 1 if point == "state-write:renamed" else first.serial)
    leftovers = hidden(path.parent)
    if point == "state-write:synced":
        # A SIGKILL before the rename leaves the temp file; it names the dead writer's pid.
        [name] = leftovers
        assert name.startswith(".local.json.") and name.endswith(".tmp")
    else:
        assert leftovers == []
    loaded = store.load()  # the next load clears what the dead writer left
    assert loaded is not None and loaded.serial == serial
    assert hidden(path.parent) == []


def test_a_killed_backup_copy_is_cleared_too_and_a_live_writers_temp_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    store = StateStore(path)
    store.save(State.new("local"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".local.json.{sleeper.pid}.abc123.tmp"
        dead_backup = tmp_path / f".local.json.backup.{_dead_pid()}.def456.tmp"
        mine = tmp_path / f".local.json.{os.getpid()}.ghi789.tmp"
        unrelated = tmp_path / ".other.json.1.x.tmp"
        for p in (live, dead_backup, mine, unrelated):
            p.write_text("{")
        removed = store.remove_stale_temp_files()
        assert sorted(p.name for p in removed) == sorted([dead_backup.name, mine.name])
        assert live.exists() and unrelated.exists()
        store.save(store.load_or_new("local"))  # a save clears them too, and leaves none of its own
        assert live.exists() and not dead_backup.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    store.load()
    assert hidden(tmp_path) == [unrelated.name]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


TEMP_NAMES = ("state/.local.json.4242.k3j4h5l6.tmp", "state/.serve.json.backup.17.abcdefgh.tmp")


def ignored(repo: Path, name: str) -> bool:
    result = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", "-q", name], timeout=30)
    return result.returncode == 0


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_git_ignores_the_temp_files_of_state_writes_here_and_in_a_new_workspace(tmp_path: Path) -> None:
    assert [n for n in TEMP_NAMES if not ignored(ROOT, n)] == []
    ws = tmp_path / "ws"
    create_workspace(ws)
    subprocess.run(["git", "init", "-q", str(ws)], check=True, timeout=30)
    assert [n for n in TEMP_NAMES if not ignored(ws, n)] == []
    assert not ignored(ws, "state/local.json") and not ignored(ws, "state/.gitkeep")  # state itself is committed
