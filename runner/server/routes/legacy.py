"""The original app's endpoints (`/status`, `/upload_files`, `/fine_tuning`, `/retrieve`, `/chat`) on the same data.

Every answer is wrapped as `{"info": "ok", "response": ...}`; errors as `{"info": "error", "response": <OpenAI error
envelope>}` with the same HTTP status the `/v1` API would give.
"""

from __future__ import annotations

from typing import Any

import flask

from runner.server import jobs
from runner.server.chat import chat_directory, complete, parse_params
from runner.server.errors import ApiError, invalid
from runner.server.job_request import parse_job_request
from runner.server.objects import job_object
from runner.server.request_input import json_body
from runner.server.routes import ctx
from runner.server.routes.files import store_upload
from runner.server.routes.models import load_model

bp = flask.Blueprint("legacy", __name__)


def ok(response: Any) -> flask.Response:
    return flask.jsonify({"info": "ok", "response": response})


@bp.errorhandler(ApiError)
def _error(e: ApiError) -> flask.Response:
    resp = flask.jsonify({"info": "error", "response": e.body()})
    resp.status_code = e.status
    return resp


@bp.get("/status")
def status() -> flask.Response:
    return ok({})


@bp.post("/upload_files")
def upload_files() -> flask.Response:
    files = flask.request.files.getlist("files")
    if not files:
        raise invalid("Missing required parameter: 'files' (one or more JSONL files).", "files")
    out = []
    for storage in files:
        stored = store_upload(storage, "fine-tune")
        out.append(
            {
                "filename": stored["filename"],
                "content_type": storage.content_type,
                "size": stored["bytes"],
                "status": "uploaded",
                "response": stored,
            }
        )
    return ok(out)


@bp.post("/fine_tuning")
def fine_tuning() -> flask.Response:
    body = json_body()
    model = body.get("model")
    if model is None:
        presets = ctx().base_models()
        if not presets:
            raise invalid("No base model is available on this server; pass 'model'.", "model")
        model = presets[0]
    request = parse_job_request(
        {k: v for k, v in {"model": model, **body}.items() if k in ("model", "training_file", "suffix") and v}
    )
    c = ctx()
    return ok(job_object(jobs.create(c, request), c.organization_id))


@bp.post("/retrieve")
def retrieve() -> flask.Response:
    body = json_body()
    job_id = body.get("fine_tuning_job_id")
    if not isinstance(job_id, str):
        raise invalid("Missing required parameter: 'fine_tuning_job_id'.", "fine_tuning_job_id")
    c = ctx()
    return ok(job_object(jobs.get(c, job_id), c.organization_id))


@bp.post("/chat")
def chat() -> flask.Response:
    body = json_body()
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise invalid("Missing required parameter: 'text'.", "text")
    model_id = body.get("model")
    if model_id is None:
        models = ctx().store.list_models()
        if not models:
            raise invalid("No fine-tuned model exists yet; pass 'model'.", "model")
        model_id = models[-1]["id"]
    model = load_model(model_id)
    directory = chat_directory(ctx(), model)
    completion = complete(ctx().generate, model, directory, [{"role": "user", "content": text}], parse_params({}))
    return ok(
        {
            "content": completion["choices"][0]["message"]["content"],
            "id": completion["id"],
            "model": completion["model"],
        }
    )
