"""`/v1/uploads`: large files in parts (any order, each at most 64 MB), completed into one file."""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Any

import flask

from runner.server import ids
from runner.server.errors import invalid, not_found
from runner.server.objects import part_object, upload_object
from runner.server.request_input import form_file, json_body, save_limited
from runner.server.routes import ctx
from runner.server.routes.files import PURPOSES
from runner.server.store import now

bp = flask.Blueprint("uploads", __name__)

MAX_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024
MAX_PART_BYTES = 64 * 1024 * 1024
UPLOAD_LIFETIME_SECONDS = 3600
UPLOAD_PURPOSES = PURPOSES - {"user_data", "evals"}


def _render(row: dict[str, Any]) -> dict[str, Any]:
    file = ctx().store.get_file(row["file_id"]) if row["file_id"] else None
    return upload_object(row, file)


def _load(upload_id: str) -> dict[str, Any]:
    c = ctx()
    row = c.store.get_upload(upload_id) if ids.is_valid_id(upload_id, "upload_") else None
    if row is None:
        raise not_found(f"No such Upload object: {upload_id}")
    if row["status"] == "pending" and now() >= row["expires_at"]:
        c.store.set_upload_status(upload_id, "expired")
        shutil.rmtree(c.data.upload_dir(upload_id), ignore_errors=True)
        row = {**row, "status": "expired"}
    return row


def _pending(upload_id: str) -> dict[str, Any]:
    row = _load(upload_id)
    if row["status"] != "pending":
        raise invalid(f"Upload {upload_id} is {row['status']}; parts can only be added to a pending upload.")
    return row


@bp.post("/uploads")
def create_upload() -> Any:
    body = json_body()
    for name in ("filename", "purpose", "mime_type"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise invalid(f"Missing required parameter: '{name}'.", name)
    size = body.get("bytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_UPLOAD_BYTES:
        raise invalid(f"Invalid 'bytes': expected an integer between 0 and {MAX_UPLOAD_BYTES}.", "bytes")
    if body["purpose"] not in UPLOAD_PURPOSES:
        raise invalid(
            f"Invalid value for 'purpose': {body['purpose']!r}; expected one of {', '.join(sorted(UPLOAD_PURPOSES))}.",
            "purpose",
        )
    created = now()
    row = {
        "id": ids.upload_id(),
        "created_at": created,
        "filename": body["filename"],
        "purpose": body["purpose"],
        "bytes": size,
        "mime_type": body["mime_type"],
        "status": "pending",
        "expires_at": created + UPLOAD_LIFETIME_SECONDS,
    }
    c = ctx()
    c.store.add_upload(row)
    c.data.upload_dir(row["id"]).mkdir(parents=True, exist_ok=True)
    return _render({**row, "file_id": None})


@bp.post("/uploads/<upload_id>/parts")
def add_part(upload_id: str) -> Any:
    row = _pending(upload_id)
    c = ctx()
    storage = form_file("data")
    part_id = ids.part_id()
    limit = int(flask.current_app.config.get("FTRUN_MAX_PART_BYTES", MAX_PART_BYTES))
    directory = c.data.upload_dir(row["id"])
    directory.mkdir(parents=True, exist_ok=True)
    size = save_limited(storage, c.data.part_path(row["id"], part_id), limit, "Upload part")
    return part_object(c.store.add_part(part_id, row["id"], size))


@bp.post("/uploads/<upload_id>/complete")
def complete_upload(upload_id: str) -> Any:
    row = _pending(upload_id)
    c = ctx()
    body = json_body()
    part_ids = body.get("part_ids")
    if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
        raise invalid("Missing required parameter: 'part_ids' (an ordered list of part ids).", "part_ids")
    if len(set(part_ids)) != len(part_ids):
        raise invalid("'part_ids' lists a part more than once.", "part_ids")
    parts = {p["id"]: p for p in c.store.parts(row["id"])}
    unknown = [p for p in part_ids if p not in parts]
    if unknown:
        raise invalid(f"Part {unknown[0]} does not belong to upload {row['id']}.", "part_ids")
    total = sum(parts[p]["bytes"] for p in part_ids)
    if total != row["bytes"]:
        raise invalid(
            f"The parts add up to {total} bytes, but the upload was created for {row['bytes']} bytes.", "part_ids"
        )
    md5 = body.get("md5")
    file_id = ids.file_id()
    destination = c.data.file_path(file_id)
    tmp = destination.with_name(destination.name + ".partial")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with tmp.open("wb") as out:
            for p in part_ids:
                with c.data.part_path(row["id"], p).open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if md5 is not None and (not isinstance(md5, str) or md5.lower() != digest.hexdigest()):
            raise invalid(f"The md5 checksum does not match the uploaded bytes ({digest.hexdigest()}).", "md5")
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    c.store.add_file(file_id, row["filename"], row["purpose"], total)
    c.store.set_upload_status(row["id"], "completed", file_id)
    shutil.rmtree(c.data.upload_dir(row["id"]), ignore_errors=True)
    return _render({**row, "status": "completed", "file_id": file_id})


@bp.post("/uploads/<upload_id>/cancel")
def cancel_upload(upload_id: str) -> Any:
    row = _pending(upload_id)
    c = ctx()
    c.store.set_upload_status(row["id"], "cancelled")
    shutil.rmtree(c.data.upload_dir(row["id"]), ignore_errors=True)
    return _render({**row, "status": "cancelled"})
