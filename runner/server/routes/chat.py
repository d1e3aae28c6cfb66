"""`/v1/chat/completions`."""

from __future__ import annotations

from typing import Any

import flask

from runner.server.chat import (
    chat_directory,
    complete,
    open_stream,
    parse_messages,
    parse_params,
    parse_stream,
    stream_events,
)
from runner.server.errors import invalid
from runner.server.request_input import json_body
from runner.server.routes import ctx
from runner.server.routes.models import load_model

bp = flask.Blueprint("chat", __name__)


@bp.post("/chat/completions")
def chat_completions() -> Any:
    body = json_body()
    if not isinstance(body.get("model"), str):
        raise invalid("Missing required parameter: 'model'.", "model")
    messages = parse_messages(body.get("messages"))
    params = parse_params(body)
    streaming = parse_stream(body)
    model = load_model(body["model"])
    directory = chat_directory(ctx(), model)
    if streaming is None:
        return complete(ctx().generate, model, directory, messages, params)
    pieces = open_stream(ctx().stream, directory, messages, params)
    response = flask.Response(
        stream_events(pieces, model.id, params, streaming),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(pieces.close)  # also when the client leaves before the first event was sent
    return response
