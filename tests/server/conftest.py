"""Fixtures for the server tests: an app on a temp data dir with fakes at the trainer ports, the real openai SDK
on an in-process WSGI transport, an in-process worker, and training data."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import flask
import httpx2
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import server_fakes  # noqa: E402
from server_testkit import chat_examples, sdk_client, with_fakes  # noqa: E402

from runner.server import create_app  # noqa: E402
from runner.server.datadir import DataDir  # noqa: E402
from runner.server.worker import Worker  # noqa: E402


@pytest.fixture
def generator() -> server_fakes.FakeGenerator:
    return server_fakes.FakeGenerator()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path, generator: server_fakes.FakeGenerator) -> flask.Flask:
    return with_fakes(create_app(data_dir, start_worker=False), generator)


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
