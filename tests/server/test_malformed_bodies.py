"""Malformed request bodies are the client's mistake: each gets a 400 in OpenAI's error envelope, never a 500 (which
every SDK would retry three times)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx2
import openai
import pytest
from server_testkit import BASE_MODELS, error_of, sdk_client

from runner.server import create_app
from runner.server.request_input import MAX_JSON_DEPTH


def _bad_request(call: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    assert caught.value.status_code == 400
    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    return caught.value


@pytest.mark.parametrize("role", [["user"], {"name": "user"}, 3, None])
def test_chat_with_a_role_that_is_not_a_string(client: openai.OpenAI, role: Any) -> None:
    e = _bad_request(
        lambda: client.chat.completions.create(
            model="local/tiny",
            messages=[{"role": role, "content": "hi"}],  # type: ignore[misc,list-item]
        )
    )
    assert e.param == "messages[0].role"


def test_job_with_method_type_an_object(client: openai.OpenAI, training_file: str) -> None:
    e = _bad_request(
        lambda: client.fine_tuning.jobs.create(
            model="local/tiny",
            training_file=training_file,
            method={"type": {"supervised": {}}},  # type: ignore[arg-type,typeddict-item]
        )
    )
    assert e.param == "method.type"


@pytest.mark.parametrize("hyperparameters", ["n_epochs=3", ["n_epochs"], 3])
def test_job_with_hyperparameters_not_an_object_beside_method(
    client: openai.OpenAI, training_file: str, hyperparameters: Any
) -> None:
    e = _bad_request(
        lambda: client.fine_tuning.jobs.create(
            model="local/tiny",
            training_file=training_file,
            hyperparameters=hyperparameters,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
        )
    )
    assert e.param == "hyperparameters"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/fine_tuning/jobs", "/v1/uploads", "/fine_tuning"])
def test_a_body_nested_200000_deep(http: httpx2.Client, path: str) -> None:
    depth = 200_000
    body = '{"model": "local/tiny", "messages": ' + "[" * depth + "]" * depth + "}"
    response = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["response"]["error"] if path == "/fine_tuning" else error_of(response)
    assert "parse" in error["message"]


def test_a_body_nested_just_past_the_limit_is_refused_and_one_at_it_is_read(http: httpx2.Client) -> None:
    def nested(depth: int) -> dict[str, Any]:
        value: Any = "x"
        for _ in range(depth - 2):  # the body and `metadata` are the first two levels
            value = [value]
        return {"model": "local/tiny", "training_file": "file-x", "metadata": {"k": value}}

    too_deep = http.post("/v1/fine_tuning/jobs", content=json.dumps(nested(MAX_JSON_DEPTH + 1)),
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert too_deep.status_code == 400 and "nested more than" in error_of(too_deep)["message"]
    at_limit = http.post("/v1/fine_tuning/jobs", content=json.dumps(nested(MAX_JSON_DEPTH)),
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert at_limit.status_code == 400 and error_of(at_limit)["param"] == "metadata"  # read, then validated


@pytest.fixture
def real_generate_client(data_dir: Path) -> Iterator[openai.OpenAI]:
    """The app with the real `training.generate` behind chat (the base-model list stays fixed)."""
    app: flask.Flask = create_app(data_dir, start_worker=False)
    app.extensions["ftrun"] = dataclasses.replace(app.extensions["ftrun"], base_models=lambda: BASE_MODELS)
    client = sdk_client(app)
    yield client
    client.close()


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs the local extra")
@pytest.mark.parametrize("config", ["llama", "empty"])
def test_chat_with_a_model_directory_without_weights(
    real_generate_client: openai.OpenAI, tmp_path: Path, config: str
) -> None:
    directory = tmp_path / "no-weights"
    directory.mkdir()
    if config == "llama":
        from transformers import LlamaConfig

        LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                    num_attention_heads=2).save_pretrained(directory)  # fmt: skip
    else:
        (directory / "config.json").write_text("{}")
    e = _bad_request(
        lambda: real_generate_client.chat.completions.create(
            model=str(directory), messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    )
    assert e.code == "model_not_found" and e.param == "model"
    assert "cannot be loaded" in e.message
