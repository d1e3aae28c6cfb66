"""The Flask app factory: OpenAI's API under `/v1` and the original app's endpoints, on one data directory."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from pathlib import Path

import flask

from runner.server import errors, ids
from runner.server.context import ServerContext, open_context
from runner.server.errors import ApiError, unauthorized
from runner.server.routes import chat, files, jobs, legacy, models, uploads

# Bodies of requests that carry no file; the upload endpoints get the 512 MB (files) and 64 MB (parts) limits.
MAX_JSON_BODY_BYTES = 4 * 1024 * 1024
_MULTIPART_OVERHEAD = 1024 * 1024
_UPLOAD_ENDPOINTS = {"files.create_file", "legacy.upload_files"}
_PART_ENDPOINTS = {"uploads.add_part"}


def _limit_body() -> None:
    app = flask.current_app
    endpoint = flask.request.endpoint
    if endpoint in _UPLOAD_ENDPOINTS:
        limit = int(app.config["FTRUN_MAX_FILE_BYTES"]) + _MULTIPART_OVERHEAD
    elif endpoint in _PART_ENDPOINTS:
        limit = int(app.config["FTRUN_MAX_PART_BYTES"]) + _MULTIPART_OVERHEAD
    else:
        limit = MAX_JSON_BODY_BYTES
    flask.request.max_content_length = limit


def _authenticate(keys: tuple[str, ...]) -> None:
    header = flask.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using"
            " Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    if not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
        raise unauthorized("Incorrect API key provided.")


def create_app(
    data_dir: Path,
    *,
    api_keys: Sequence[str] = (),
    start_worker: bool = True,
    max_workers: int = 1,
    worker_stays: bool = False,
) -> flask.Flask:
    """Build the server on `data_dir` (created if missing).

    `api_keys`: when non-empty, every request needs `Authorization: Bearer <one of them>`. `start_worker`: start the
    detached worker process when jobs are waiting (turn off to drive `worker.Worker` in-process, as tests do).
    `max_workers`: how many jobs the worker trains at once. `worker_stays` (`ftrun serve`): the worker, once started
    (`ServerContext.wake_worker`), warms up and stays while this process runs, so the first job starts as quickly as
    the next."""
    return app_for(
        open_context(
            data_dir, api_keys=api_keys, start_worker=start_worker, max_workers=max_workers, worker_stays=worker_stays
        )
    )


def app_for(context: ServerContext) -> flask.Flask:
    """The app answering on `context` (see `create_app`)."""
    app = flask.Flask("runner.server")
    app.config["FTRUN_MAX_FILE_BYTES"] = files.MAX_FILE_BYTES
    app.config["FTRUN_MAX_PART_BYTES"] = uploads.MAX_PART_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["ftrun"] = context

    @app.before_request
    def _before() -> flask.Response | None:
        if context.api_keys:
            try:
                _authenticate(context.api_keys)
            except ApiError as e:  # answered here, so the original app's endpoints get OpenAI's 401 envelope too
                return e.response()
        _limit_body()
        return None

    @app.after_request
    def _request_id(response: flask.Response) -> flask.Response:  # errors and streamed answers included
        response.headers.setdefault("x-request-id", ids.request_id())
        return response

    for module in (files, uploads, jobs, models, chat):
        app.register_blueprint(module.bp, url_prefix="/v1")
    app.register_blueprint(legacy.bp)
    errors.register(app)
    return app
