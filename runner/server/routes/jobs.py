"""`/v1/fine_tuning/jobs`: create, list (after, limit, metadata filter), retrieve, cancel, pause, resume, events,
checkpoints."""

from __future__ import annotations

from typing import Any

import flask

from runner.job_status import JobStatus
from runner.server import jobs
from runner.server.context import ctx
from runner.server.errors import invalid
from runner.server.job_request import parse_job_request
from runner.server.objects import checkpoint_object, event_object, job_object, list_object
from runner.server.request_input import json_body, query_int

bp = flask.Blueprint("jobs", __name__)

MAX_LIST_LIMIT = 100


def render(row: dict[str, Any]) -> dict[str, Any]:
    return job_object(row, ctx().organization_id)


def _metadata_filter() -> dict[str, str] | None:
    """`metadata[k]=v` pairs from the query; `{}` for `metadata=null` (jobs without metadata); None for no filter."""
    args = flask.request.args
    if args.get("metadata") == "null":
        return {}
    pairs = {k[len("metadata[") : -1]: v for k, v in args.items() if k.startswith("metadata[") and k.endswith("]")}
    return pairs or None


@bp.post("/fine_tuning/jobs")
def create_job() -> Any:
    return render(jobs.create(ctx(), parse_job_request(json_body())))


@bp.get("/fine_tuning/jobs")
def list_jobs() -> Any:
    c = ctx()
    c.wake_worker()
    limit = query_int("limit", 20, 1, MAX_LIST_LIMIT)
    after = flask.request.args.get("after")
    after_seq = None
    if after:
        anchor = c.store.get_job(after)
        if anchor is None:
            raise invalid(f"Invalid 'after': no fine-tuning job {after}.", "after")
        after_seq = int(anchor["seq"])  # the jobs older than it, whether or not it matches the filter
    page, has_more = c.store.list_jobs(limit=limit, after_seq=after_seq, metadata=_metadata_filter())
    return list_object([render(r) for r in page], has_more)


@bp.get("/fine_tuning/jobs/<job_id>")
def retrieve_job(job_id: str) -> Any:
    c = ctx()
    row = jobs.get(c, job_id)
    if JobStatus.of(row["status"]).needs_polling:
        c.wake_worker()
    return render(row)


@bp.post("/fine_tuning/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Any:
    return render(jobs.cancel(ctx(), job_id))


@bp.post("/fine_tuning/jobs/<job_id>/pause")
def pause_job(job_id: str) -> Any:
    return render(jobs.pause(ctx(), job_id))


@bp.post("/fine_tuning/jobs/<job_id>/resume")
def resume_job(job_id: str) -> Any:
    return render(jobs.resume(ctx(), job_id))


@bp.get("/fine_tuning/jobs/<job_id>/events")
def list_events(job_id: str) -> Any:
    c = ctx()
    jobs.get(c, job_id)
    rows, has_more = c.store.list_events(job_id, flask.request.args.get("after"), query_int("limit", 20, 1, 1000))
    return list_object([event_object(r) for r in rows], has_more)


@bp.get("/fine_tuning/jobs/<job_id>/checkpoints")
def list_checkpoints(job_id: str) -> Any:
    c = ctx()
    jobs.get(c, job_id)
    limit = query_int("limit", 10, 1, 100)
    rows = c.store.list_checkpoints(job_id)
    after = flask.request.args.get("after")
    if after:
        position = next((i for i, r in enumerate(rows) if r["id"] == after), None)
        rows = rows[position + 1 :] if position is not None else rows
    page = rows[:limit]
    return list_object([checkpoint_object(r) for r in page], len(rows) > limit, with_ids=True)
