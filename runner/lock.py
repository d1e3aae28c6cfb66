"""The state lock: one apply (or destroy) at a time per target.

The lock is a file that names its holder (id, pid, host, time, operation), and the holder keeps an exclusive `flock`
on it for as long as it runs. The kernel drops that flock when the process dies, however it dies, so on this host a
dead holder is proven dead by taking the flock: its lock is taken over with a warning that names it, and "run apply
again" works after a crash. A lock held by a live process, or written on another host (where the flock proves
nothing), refuses with the holder's name and `ftrun force-unlock LOCK_ID`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from runner.diagnostics import StateError

UNREADABLE = "unreadable"


@dataclass(frozen=True)
class LockInfo:
    id: str
    pid: int
    host: str
    created: str
    operation: str

    @property
    def unknown(self) -> bool:
        """The file names no holder: its writer died between creating it and writing it."""
        return self.id == UNREADABLE

    def describe(self) -> str:
        if self.unknown:
            return "an ftrun that died while taking the lock"
        return f"pid {self.pid} on {self.host} since {self.created} for '{self.operation}'"


_UNKNOWN = LockInfo(id=UNREADABLE, pid=-1, host="?", created="?", operation="?")


class LockHeld(StateError):
    def __init__(self, info: LockInfo, *, stale: bool) -> None:
        what = "a lock from another host (this host cannot tell whether its holder still runs)" if stale else "locked"
        holder = "another ftrun that is taking it now" if info.unknown and not stale else info.describe()
        super().__init__(
            f"state is {what}: held by {holder} (lock id {info.id})",
            hint=f"if no other ftrun is running, clear it with: ftrun force-unlock {info.id}",
        )
        self.info = info
        self.stale = stale


def _parse(text: str) -> LockInfo | None:
    if not text.strip():
        return None
    try:
        return LockInfo(**json.loads(text))
    except (json.JSONDecodeError, TypeError, ValueError):
        return None


def read(path: Path) -> LockInfo | None:
    """The lock's holder as its file names it; None when there is no lock file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return _parse(text) or _UNKNOWN


def _open_locked(path: Path) -> tuple[int, bool]:
    """Open the lock file and try its flock: (fd, True) when this process now holds it, (fd, False) when a live one
    does. Retries when the file was replaced or removed between opening and locking."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return fd, False
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, True
        os.close(fd)  # we locked a file its holder removed on release: start again on the current one


@contextmanager
def hold(path: Path, operation: str, on_takeover: Callable[[LockInfo], None] | None = None) -> Iterator[LockInfo]:
    """Take the lock for the duration of the block, or raise LockHeld naming its holder.

    `on_takeover` hears of a lock left by a holder that died on this host, which this call takes over.
    """
    info = LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        operation=operation,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    fd, locked = _open_locked(path)
    try:
        text = os.pread(fd, 1 << 16, 0).decode("utf-8", errors="replace")
        previous = _parse(text) or (_UNKNOWN if existed or text else None)
        if not locked:
            raise LockHeld(previous or _UNKNOWN, stale=False)
        if previous is not None and not previous.unknown and previous.host != info.host:
            raise LockHeld(previous, stale=True)
        if previous is not None and on_takeover is not None:
            on_takeover(previous)
        data = json.dumps(asdict(info)).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        try:
            yield info
        finally:
            path.unlink(missing_ok=True)  # before the flock drops, so a waiter retries on a fresh file
    finally:
        os.close(fd)


def force_unlock(path: Path, lock_id: str) -> LockInfo:
    held = read(path)
    if held is None:
        raise StateError("the state is not locked")
    if held.id != lock_id:
        raise StateError(f"lock id does not match: the lock is held with id {held.id}")
    path.unlink()
    return held
