"""Helpers shared by the server tests (training data, the SDK on a WSGI transport, fakes wiring, error checks).

A module with a name of its own, not `conftest`, so that other test folders' helpers never shadow it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx2
import openai
import server_fakes

HERE = Path(__file__).resolve().parent
BASE_MODELS = ("local/tiny", "fake/base")


def chat_examples(n: int) -> bytes:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
                {"role": "user", "content": f"Question number {i}?"},
                {"role": "assistant", "content": f"Answer number {i}, obviously."},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def preference_examples(n: int) -> bytes:
    lines = [
        {
            "input": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
            "preferred_output": [{"role": "assistant", "content": "Good answer."}],
            "non_preferred_output": [{"role": "assistant", "content": "Bad answer."}],
        }
        for i in range(n)
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def with_fakes(app: flask.Flask, generator: server_fakes.FakeGenerator) -> flask.Flask:
    context = app.extensions["ftrun"]
    app.extensions["ftrun"] = dataclasses.replace(
        context, generate=generator, stream=generator.stream, base_models=lambda: BASE_MODELS
    )
    return app


def sdk_client(app: flask.Flask, api_key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://local.invalid/v1",
        api_key=api_key,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.WSGITransport(app=app)),
    )


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return dict(body["error"])


@contextlib.contextmanager
def serving(app: flask.Flask) -> Iterator[str]:
    """The app on a real loopback socket, behind the same HTTP server `ftrun serve` runs; yields its base URL."""
    from runner.server.serve import http_server

    server = http_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
