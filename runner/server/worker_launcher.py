"""Starts the detached worker process when there is work and no live worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import runner
from runner.server.datadir import DataDir
from runner.server.worker_lock import process_running, worker_alive

# The package root, so the worker imports the same `runner` as the app even when it is not installed.
_PACKAGE_ROOT = Path(runner.__file__).resolve().parent.parent

# Workers this process started, with their start times; polled so that finished ones are reaped instead of
# lingering as zombies.
_children: list[tuple[Path, subprocess.Popen[bytes], float]] = []

# A worker needs a moment to start Python and take the lock; one started this recently is trusted to do so, so that
# a burst of requests does not start a burst of processes.
STARTUP_GRACE_SECONDS = 5.0


def start_worker(data: DataDir, max_workers: int, server_pid: int | None = None) -> bool:
    """Spawn `python -m runner.server.worker` in its own session unless a worker holds the lock; with `server_pid`
    (the `ftrun serve` process), one that warms up at once and stays while that process runs.

    Returns whether a process was started. Two racing starts are harmless: the loser fails to take the lock and
    exits at once."""
    _children[:] = [(root, c, t) for root, c, t in _children if c.poll() is None]
    if any(root == data.root and time.monotonic() - t < STARTUP_GRACE_SECONDS for root, _, t in _children):
        return False
    if worker_alive(data.worker_lock):
        return False
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the log is a file: no progress bars in it
    with data.worker_log.open("ab") as log:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner.server.worker",
                "--data-dir",
                str(data.root),
                "--max-workers",
                str(max_workers),
                *(() if server_pid is None else ("--server-pid", str(server_pid))),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=data.root,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _children.append((data.root, child, time.monotonic()))
    return True


def wait_until_ready(data: DataDir, timeout: float) -> bool:
    """Wait for a worker started with a `server_pid` to have warmed up (it writes its pid to `worker.ready`).
    Returns whether it did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = int(data.worker_ready.read_text())
        except (OSError, ValueError):
            pid = None
        if pid is not None and worker_alive(data.worker_lock) and process_running(pid):
            return True
        if not any(root == data.root and c.poll() is None for root, c, _ in _children) and not worker_alive(
            data.worker_lock
        ):
            return False  # no worker is starting: nothing to wait for
        time.sleep(0.05)
    return False
