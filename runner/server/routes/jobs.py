"""`/v1/fine_tuning/jobs`: create, list (after, limit, metadata filter), retrieve, cancel, pause, resume, events,
checkpoints."""

from __future__ import annotations

from typing import Any

import flask

from runner.server import jobs, reads
from runner.server.job_request import parse_job_request
from runner.server.objects import job_object
from runner.server.request_input import json_body, query_int
from runner.server.routes import ctx

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
    limit = query_int("limit", 20, 1, MAX_LIST_LIMIT)
    return reads.jobs_page(ctx(), limit=limit, after=flask.request.args.get("after"), metadata=_metadata_filter())


@bp.get("/fine_tuning/jobs/<job_id>")
def retrieve_job(job_id: str) -> Any:
    return reads.job(ctx(), job_id)


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
    limit = query_int("limit", 20, 1, 1000)
    return reads.events_page(ctx(), job_id, after=flask.request.args.get("after"), limit=limit)


@bp.get("/fine_tuning/jobs/<job_id>/checkpoints")
def list_checkpoints(job_id: str) -> Any:
    limit = query_int("limit", 10, 1, 100)
    return reads.checkpoints_page(ctx(), job_id, after=flask.request.args.get("after"), limit=limit)
