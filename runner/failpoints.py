"""Named points where a process can be made to die, so tests can kill it at an exact moment.

There is one before and one after every remote call that changes something (the provider's uploads, job creates
and cancels, model deletes) and three in every state write (before anything is written, once the temp file is
fsynced, once it has been renamed into place): every boundary an apply crosses. `ALL` lists them.

`FTRUN_FAILPOINTS=job-create:after` makes the process announce `failpoint job-create:after reached` on stderr and
then SIGKILL itself when it gets there, as a crash or a power cut would stop it. `NAME@N` dies the Nth time the
point is reached instead of the first; several comma-separated names may be given. Unset (always, for users), a
failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "FTRUN_FAILPOINTS"

FILE_UPLOAD = "file-upload"  # POST /files
UPLOAD_CREATE = "upload-create"  # POST /uploads
UPLOAD_PART = "upload-part"  # POST /uploads/{id}/parts
UPLOAD_COMPLETE = "upload-complete"  # POST /uploads/{id}/complete
JOB_CREATE = "job-create"  # POST /fine_tuning/jobs
JOB_CANCEL = "job-cancel"  # POST /fine_tuning/jobs/{id}/cancel
MODEL_DELETE = "model-delete"  # DELETE /models/{id}
REMOTE_CALLS = (FILE_UPLOAD, UPLOAD_CREATE, UPLOAD_PART, UPLOAD_COMPLETE, JOB_CREATE, JOB_CANCEL, MODEL_DELETE)

STATE_WRITE_BEFORE = "state-write:before"  # nothing of this write is on disk yet
STATE_WRITE_SYNCED = "state-write:synced"  # the temp file is complete and fsynced, the old state still in place
STATE_WRITE_RENAMED = "state-write:renamed"  # the new state is in place
JOB_CREATED = "job-created"  # the applier has the created (or found) job, not yet recorded in state


def before(call: str) -> str:
    return f"{call}:before"


def after(call: str) -> str:
    return f"{call}:after"


ALL: tuple[str, ...] = (
    *(point for call in REMOTE_CALLS for point in (before(call), after(call))),
    STATE_WRITE_BEFORE,
    STATE_WRITE_SYNCED,
    STATE_WRITE_RENAMED,
    JOB_CREATED,
)

_KNOWN = frozenset(ALL)
_hits: dict[str, int] = {}


def armed() -> dict[str, int]:
    """The failpoints FTRUN_FAILPOINTS sets, each with the hit it dies on (1 unless `@N` says otherwise)."""
    points = {}
    for item in os.environ.get(ENV, "").split(","):
        name, _, nth = item.strip().partition("@")
        if name:
            points[name] = int(nth) if nth.isdigit() and int(nth) > 0 else 1
    return points


def failpoint(name: str) -> None:
    if not os.environ.get(ENV):
        return
    if name not in _KNOWN:
        raise ValueError(f"failpoint {name!r} is not listed in runner.failpoints.ALL")
    nth = armed().get(name)
    if nth is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] < nth:
        return
    print(f"failpoint {name} reached", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
