"""What the server's read endpoints answer, as OpenAI's API objects, without the web framework.

The routes parse a request's parameters and return these; the local target (runner.local_target) calls them
directly, so a `plan` on the built-in server reads exactly what every client is answered without loading Flask.
Reading the jobs wakes the worker when work is waiting, whichever way they are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.job_status import JobStatus
from runner.server import ids, jobs
from runner.server.context import ServerContext
from runner.server.errors import invalid, not_found
from runner.server.model_catalog import all_models
from runner.server.objects import checkpoint_object, event_object, file_object, job_object, list_object


def jobs_page(c: ServerContext, *, limit: int, after: str | None, metadata: dict[str, str] | None) -> dict[str, Any]:
    """A page of jobs, newest first, older than the job `after`; `metadata` keeps the jobs whose metadata has those
    pairs (`{}`: the jobs without metadata; None: every job)."""
    c.wake_worker()
    after_seq = None
    if after:
        anchor = c.store.get_job(after)
        if anchor is None:
            raise invalid(f"Invalid 'after': no fine-tuning job {after}.", "after")
        after_seq = int(anchor["seq"])  # the jobs older than it, whether or not it matches the filter
    page, has_more = c.store.list_jobs(limit=limit, after_seq=after_seq, metadata=metadata)
    return list_object([job_object(r, c.organization_id) for r in page], has_more)


def job(c: ServerContext, job_id: str) -> dict[str, Any]:
    row = jobs.get(c, job_id)
    if JobStatus.of(row["status"]).needs_polling:
        c.wake_worker()
    return job_object(row, c.organization_id)


def events_page(c: ServerContext, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
    """A page of a job's events, newest first."""
    jobs.get(c, job_id)
    rows, has_more = c.store.list_events(job_id, after, limit)
    return list_object([event_object(r) for r in rows], has_more)


def checkpoints_page(c: ServerContext, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
    """A page of a job's checkpoints, newest first."""
    jobs.get(c, job_id)
    rows = c.store.list_checkpoints(job_id)
    if after:
        position = next((i for i, r in enumerate(rows) if r["id"] == after), None)
        rows = rows[position + 1 :] if position is not None else rows
    return list_object([checkpoint_object(r) for r in rows[:limit]], len(rows) > limit, with_ids=True)


def file_row(c: ServerContext, file_id: str) -> dict[str, Any]:
    """The stored record of a file; 404 for an id that is not one."""
    row = c.store.get_file(file_id) if ids.is_valid_id(file_id, "file-") else None
    if row is None:
        raise not_found(f"No such File object: {file_id}")
    return row


def file(c: ServerContext, file_id: str) -> dict[str, Any]:
    return file_object(file_row(c, file_id))


def file_content(c: ServerContext, file_id: str) -> tuple[Path, str]:
    """Where a file's bytes are, and its name."""
    row = file_row(c, file_id)
    return c.data.file_path(row["id"]), row["filename"]


def files_page(c: ServerContext, *, purpose: str | None, order: str, after: str | None, limit: int) -> dict[str, Any]:
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value for 'order': {order!r}; expected 'asc' or 'desc'.", "order")
    rows, has_more = c.store.list_files(purpose, order, after, limit)
    return list_object([file_object(r) for r in rows], has_more, with_ids=True)


def models(c: ServerContext) -> dict[str, Any]:
    return {"object": "list", "data": [m.api_object() for m in all_models(c.store, c.organization_id, c.base_models())]}
