"""Streamed chat completions (`stream: true`) and the `x-request-id` header, through the real SDK, raw HTTP, a real
socket and LangChain, with the fake generator at the trainer port."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import flask
import httpx2
import openai
import pytest
import server_fakes
from openai.types.chat import ChatCompletionMessageParam
from server_testkit import error_of, serving

from runner.server.training import ChatStream, GenerationParams, StreamPiece
from runner.server.worker import Worker

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "tell me three things"}]


@pytest.fixture
def trained(client: openai.OpenAI, worker: Worker, training_file: str) -> str:
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=training_file, suffix="marv")
    worker.run_until_idle()
    model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    return model


def _events(response: httpx2.Response) -> list[str]:
    lines = [line for line in response.text.split("\n") if line]
    assert all(line.startswith("data: ") for line in lines), lines
    return [line.removeprefix("data: ") for line in lines]


def test_stream_joins_to_the_whole_answer(client: openai.OpenAI, trained: str) -> None:
    whole = client.chat.completions.create(model=trained, messages=HI, temperature=0)
    chunks = list(client.chat.completions.create(model=trained, messages=HI, temperature=0, stream=True))
    assert len(chunks) > 3
    assert {c.object for c in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)


def test_usage_chunk_and_several_choices(client: openai.OpenAI, trained: str) -> None:
    whole = client.chat.completions.create(model=trained, messages=HI, n=2)
    chunks = list(
        client.chat.completions.create(
            model=trained,
            messages=HI,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    words = 5  # the fake counts a token per word, for each choice
    assert whole.usage is not None and last.usage.prompt_tokens == whole.usage.prompt_tokens
    assert last.usage.completion_tokens == 2 * words
    assert last.usage.total_tokens == last.usage.prompt_tokens + 2 * words
    assert all(c.usage is None for c in chunks[:-1])
    for index in (0, 1):
        mine = [c.choices[0] for c in chunks[:-1] if c.choices[0].index == index]
        assert "".join(c.delta.content or "" for c in mine) == whole.choices[index].message.content
        assert mine[-1].finish_reason == "stop"


def test_raw_events_end_with_done(http: httpx2.Client, trained: str) -> None:
    r = http.post("/v1/chat/completions", json={"model": trained, "messages": HI, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r)
    assert events[-1] == "[DONE]"
    bodies = [json.loads(e) for e in events[:-1]]
    assert bodies[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert bodies[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_stream_errors_are_json_not_events(http: httpx2.Client, trained: str, generator: Any) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"model": trained, "messages": HI, "stream": "yes"}, 400, "stream"),
        ({"model": trained, "messages": HI, "stream_options": {"include_usage": True}}, 400, "stream_options"),
        ({"model": trained, "messages": HI, "stream": True, "stream_options": []}, 400, "stream_options"),
        (
            {"model": trained, "messages": HI, "stream": True, "stream_options": {"include_usage": 1}},
            400,
            "stream_options.include_usage",
        ),
        ({"model": "ft:nope:personal::abcdefgh", "messages": HI, "stream": True}, 404, "model"),
        ({"model": "local/tiny", "messages": HI, "stream": True}, 400, "model"),
    ]
    for body, status, param in cases:
        r = http.post("/v1/chat/completions", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/json"
        assert error_of(r)["param"] == param
    assert generator.closed == 0  # no stream was opened by a refused request


def test_every_response_has_a_request_id(http: httpx2.Client, client: openai.OpenAI, trained: str) -> None:
    responses = [
        http.get("/v1/models"),
        http.get("/v1/models/nope"),
        http.post("/v1/chat/completions", content=b"{not json"),
        http.post("/v1/chat/completions", json={"model": trained, "messages": HI, "stream": True}),
        http.get("/status"),
        http.get("/no/such/path"),
    ]
    seen = [r.headers.get("x-request-id") for r in responses]
    assert all(isinstance(s, str) and s.startswith("req_") and len(s) == 36 for s in seen), seen
    assert len(set(seen)) == len(seen)
    raw = client.models.with_raw_response.list()
    assert raw.request_id and raw.request_id.startswith("req_")
    model = client.models.retrieve(trained)
    assert model._request_id is not None and model._request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("nope")
    assert e.value.request_id is not None and e.value.request_id.startswith("req_")


class GatedGenerator(server_fakes.FakeGenerator):
    """Streams "first", then waits until the client has that piece before it sends " second": over a socket whose
    server held events back, the client would never see "first" and this fake would give up with " (held back)"."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered = threading.Event()

    def stream(self, model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> ChatStream:
        def pieces() -> Iterator[StreamPiece]:
            yield StreamPiece(0, "first")
            yield StreamPiece(0, " second" if self.delivered.wait(30) else " (held back)", "stop", 2)

        return ChatStream(3, pieces(), self._released)


def test_events_are_sent_as_they_are_generated(app: flask.Flask, trained: str) -> None:
    gated = GatedGenerator()
    app.extensions["ftrun"] = __import__("dataclasses").replace(app.extensions["ftrun"], stream=gated.stream)
    with serving(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        texts = []
        for chunk in client.chat.completions.create(model=trained, messages=HI, stream=True):
            texts.append(chunk.choices[0].delta.content or "")
            if "first" in texts:
                gated.delivered.set()
    assert "".join(texts) == "first second"
    assert gated.closed == 1


def test_a_client_that_leaves_releases_the_stream(app: flask.Flask, trained: str, generator: Any) -> None:
    with serving(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        stream = client.chat.completions.create(model=trained, messages=HI, stream=True)
        next(iter(stream))
        stream.close()
        deadline = time.monotonic() + 10
        while generator.closed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert generator.closed == 1


@pytest.mark.skipif(importlib.util.find_spec("langchain_openai") is None, reason="langchain-openai not installed")
def test_langchain_streams(app: flask.Flask, trained: str) -> None:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    with serving(app) as url:
        chat = ChatOpenAI(model=trained, base_url=url + "/v1", api_key=SecretStr("k"), temperature=0, max_retries=0)
        pieces = [c.content for c in chat.stream("tell me three things")]
        whole = chat.invoke("tell me three things").content
    assert len(pieces) > 3
    assert "".join(str(p) for p in pieces) == whole == "echo: tell me three things"
