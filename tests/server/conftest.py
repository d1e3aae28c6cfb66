"""Fixtures for the server tests: an app on a temp data dir with fakes at the trainer ports, the real openai SDK
on an in-process WSGI transport, an in-process worker, and training data."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx2
import openai
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import server_fakes  # noqa: E402

from runner.server import create_app  # noqa: E402
from runner.server.datadir import DataDir  # noqa: E402
from runner.server.worker import Worker  # noqa: E402

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


@pytest.fixture
def generator() -> server_fakes.FakeGenerator:
    return server_fakes.FakeGenerator()


def with_fakes(app: flask.Flask, generator: server_fakes.FakeGenerator) -> flask.Flask:
    context = app.extensions["ftrun"]
    app.extensions["ftrun"] = dataclasses.replace(context, generate=generator, base_models=lambda: BASE_MODELS)
    return app


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path, generator: server_fakes.FakeGenerator) -> flask.Flask:
    return with_fakes(create_app(data_dir, start_worker=False), generator)


def sdk_client(app: flask.Flask, api_key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://local.invalid/v1",
        api_key=api_key,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.WSGITransport(app=app)),
    )


@pytest.fixture
def client(app: flask.Flask) -> Iterator[openai.OpenAI]:
    c = sdk_client(app)
    yield c
    c.close()


@pytest.fixture
def http(app: flask.Flask) -> Iterator[httpx2.Client]:
    """Raw HTTP to the app, for what the SDK does not expose (status codes, bodies, odd paths)."""
    with httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://local.invalid") as c:
        yield c


@pytest.fixture
def worker(data_dir: Path) -> Worker:
    return Worker(
        DataDir.at(data_dir),
        trainer=server_fakes.train,
        resolve_hyperparameters=server_fakes.resolve_hyperparameters,
    )


@pytest.fixture
def training_file(client: openai.OpenAI) -> str:
    return client.files.create(file=("marv.jsonl", chat_examples(12), "application/jsonl"), purpose="fine-tune").id


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return dict(body["error"])
