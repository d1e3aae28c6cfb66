"""Reading request input: JSON bodies, query integers, uploaded parts, each with OpenAI-style errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flask
from werkzeug.datastructures import FileStorage

from runner.server.errors import ApiError, invalid


def json_body() -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid("We could not parse the JSON body of your request. The body must be a JSON object.")
    return body


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = flask.request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid '{name}': expected an integer, got {raw!r}.", param=name) from None
    if not lo <= value <= hi:
        raise invalid(f"Invalid '{name}': expected a value between {lo} and {hi}, got {value}.", param=name)
    return value


def form_file(field: str) -> FileStorage:
    storage = flask.request.files.get(field)
    if storage is None:
        raise invalid(f"Missing required parameter: '{field}'.", param=field)
    return storage


def save_limited(storage: FileStorage, destination: Path, limit: int, what: str) -> int:
    """Write an uploaded part to `destination` (via a temp name, then rename); refuse more than `limit` bytes."""
    tmp = destination.with_name(destination.name + ".partial")
    size = 0
    try:
        with tmp.open("wb") as out:
            while chunk := storage.stream.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        400,
                        f"{what} is too large: the maximum is {limit // (1 << 20)} MB.",
                        "invalid_request_error",
                        "file" if what == "File" else "data",
                        "file_too_large",
                    )
                out.write(chunk)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return size
