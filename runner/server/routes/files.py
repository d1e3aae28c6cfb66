"""`/v1/files`: upload, list, retrieve, content, delete."""

from __future__ import annotations

from typing import Any

import flask

from runner.server import ids, reads
from runner.server.errors import invalid
from runner.server.objects import file_object
from runner.server.request_input import form_file, query_int, save_limited
from runner.server.routes import ctx
from runner.server.store import now

bp = flask.Blueprint("files", __name__)

PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_EXPIRY_SECONDS = 2_592_000
MIN_EXPIRY_SECONDS = 3600


def _expires_at(created: int) -> int | None:
    anchor = flask.request.form.get("expires_after[anchor]")
    seconds = flask.request.form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at" or seconds is None or not seconds.isdigit():
        raise invalid("Invalid 'expires_after': expected anchor 'created_at' and a number of seconds.", "expires_after")
    if not MIN_EXPIRY_SECONDS <= int(seconds) <= MAX_EXPIRY_SECONDS:
        raise invalid(
            f"Invalid 'expires_after.seconds': expected {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}.", "expires_after"
        )
    return created + int(seconds)


def store_upload(storage: Any, purpose: str, expires_at: int | None = None) -> dict[str, Any]:
    """Save an uploaded file under a new id and record it; shared with the original app's `/upload_files`."""
    c = ctx()
    if purpose not in PURPOSES:
        raise invalid(
            f"Invalid value for 'purpose': {purpose!r}; expected one of {', '.join(sorted(PURPOSES))}.", "purpose"
        )
    file_id = ids.file_id()
    path = c.data.file_path(file_id)
    limit = int(flask.current_app.config.get("FTRUN_MAX_FILE_BYTES", MAX_FILE_BYTES))
    size = save_limited(storage, path, limit, "File")
    filename = storage.filename or "upload"
    return file_object(c.store.add_file(file_id, filename, purpose, size, expires_at))


@bp.post("/files")
def create_file() -> Any:
    storage = form_file("file")
    purpose = flask.request.form.get("purpose")
    if not purpose:
        raise invalid("Missing required parameter: 'purpose'.", "purpose")
    return store_upload(storage, purpose, _expires_at(now()))


@bp.get("/files")
def list_files() -> Any:
    args = flask.request.args
    limit = query_int("limit", 10_000, 1, 10_000)
    return reads.files_page(
        ctx(), purpose=args.get("purpose"), order=args.get("order", "desc"), after=args.get("after"), limit=limit
    )


@bp.get("/files/<file_id>")
def retrieve_file(file_id: str) -> Any:
    return reads.file(ctx(), file_id)


@bp.get("/files/<file_id>/content")
def file_content(file_id: str) -> Any:
    path, filename = reads.file_content(ctx(), file_id)
    return flask.send_file(path, mimetype="application/octet-stream", download_name=filename)


@bp.delete("/files/<file_id>")
def delete_file(file_id: str) -> Any:
    c = ctx()
    row = reads.file_row(c, file_id)
    c.store.delete_file(row["id"])
    c.data.file_path(row["id"]).unlink(missing_ok=True)
    return {"id": row["id"], "object": "file", "deleted": True}
