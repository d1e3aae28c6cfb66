"""The OS file lock that makes one worker process per data directory, and the check whether one is alive."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WorkerLock:
    """An exclusive, non-blocking flock on `<data_dir>/worker.lock`, held for the life of the worker process.

    The kernel releases it when the process dies, SIGKILL included, so a held lock means a live worker."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def worker_alive(path: Path) -> bool:
    """Whether some process holds the worker lock (tested by trying to take it and letting go at once)."""
    probe = WorkerLock(path)
    if probe.acquire():
        probe.release()
        return False
    return True


def process_running(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    return True
