"""The state lock: one apply (or destroy) at a time per target.

The lock is a file created exclusively; it names its holder (id, pid, host, time, operation). A lock whose holder
died on this host is reported as stale; any lock can be cleared with `ftrun force-unlock LOCK_ID`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from runner.diagnostics import StateError


@dataclass(frozen=True)
class LockInfo:
    id: str
    pid: int
    host: str
    created: str
    operation: str

    @property
    def holder_alive(self) -> bool | None:
        """False when the holder ran on this host and is gone; None when that cannot be known (another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class LockHeld(StateError):
    def __init__(self, path: Path, info: LockInfo) -> None:
        stale = info.holder_alive is False
        what = "a stale lock (its holder is no longer running)" if stale else "locked"
        super().__init__(
            f"state is {what}: held by pid {info.pid} on {info.host} since {info.created} "
            f"for '{info.operation}' (lock id {info.id})",
            hint=f"if no other ftrun is running, clear it with: ftrun force-unlock {info.id}",
        )
        self.info = info
        self.stale = stale


def read(path: Path) -> LockInfo | None:
    try:
        return LockInfo(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, TypeError):
        return LockInfo(id="unreadable", pid=-1, host="?", created="?", operation="?")


@contextmanager
def hold(path: Path, operation: str) -> Iterator[LockInfo]:
    """Take the lock for the duration of the block, or raise LockHeld naming its holder."""
    info = LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        operation=operation,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        held = read(path)
        if held is None:  # released in between: try once more
            return (yield from _retry(path, operation))
        raise LockHeld(path, held) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(info), f)
    try:
        yield info
    finally:
        current = read(path)
        if current and current.id == info.id:
            path.unlink(missing_ok=True)


def _retry(path: Path, operation: str) -> Iterator[LockInfo]:
    with hold(path, operation) as info:
        yield info


def force_unlock(path: Path, lock_id: str) -> LockInfo:
    held = read(path)
    if held is None:
        raise StateError("the state is not locked")
    if held.id != lock_id:
        raise StateError(f"lock id does not match: the lock is held with id {held.id}")
    path.unlink()
    return held
