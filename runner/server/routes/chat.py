"""`/v1/chat/completions`."""

from __future__ import annotations

from typing import Any

import flask

from runner.server.chat import complete, parse_messages, parse_params
from runner.server.context import ctx
from runner.server.errors import invalid
from runner.server.request_input import json_body
from runner.server.routes.models import load_model

bp = flask.Blueprint("chat", __name__)


@bp.post("/chat/completions")
def chat_completions() -> Any:
    body = json_body()
    if body.get("stream"):
        raise invalid("Streaming is not supported by this server; omit 'stream'.", "stream")
    if not isinstance(body.get("model"), str):
        raise invalid("Missing required parameter: 'model'.", "model")
    messages = parse_messages(body.get("messages"))
    params = parse_params(body)
    return complete(ctx().generate, load_model(body["model"]), messages, params)
