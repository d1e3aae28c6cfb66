"""Reading request input: JSON bodies, query integers, uploaded parts, each with OpenAI-style errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import flask
from werkzeug.datastructures import FileStorage

from runner.server.errors import ApiError, invalid

# No request of OpenAI's API nests this deep; a body that does is refused before anything recurses over it.
MAX_JSON_DEPTH = 64

_UNPARSABLE = "We could not parse the JSON body of your request. The body must be a JSON object."


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def json_body() -> dict[str, Any]:
    """The request's JSON object. Invalid JSON, another type, or nesting deeper than `MAX_JSON_DEPTH` is a 400."""
    if not flask.request.is_json:
        raise invalid(_UNPARSABLE)
    try:
        body = json.loads(flask.request.get_data(cache=True))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's own stack allows
        raise invalid(_UNPARSABLE) from None
    if not isinstance(body, dict):
        raise invalid(_UNPARSABLE)
    if _depth_exceeds(body, MAX_JSON_DEPTH):
        raise invalid(f"The JSON body of your request is nested more than {MAX_JSON_DEPTH} levels deep.")
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
