"""The provider turns each kind of failure into one line with a hint, never a traceback.

OpenAI's own service cannot be reached here, so its error answers (the documented envelopes) come from a transport
that replies as it does; the SDK on top is the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import openai
import pytest

from runner.diagnostics import ProviderError
from runner.provider import OpenAIProvider, connect, http_client
from runner.remote import JobRequest
from runner.workspace import Target, Workspace
from runner.yamlsource import Located

TARGET = Target(name="openai", kind="openai", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY")


def provider_answering(status: int, code: str | None, message: str, calls: list[int]) -> OpenAIProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(1)
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        return httpx2.Response(status, content=json.dumps(body), headers={"content-type": "application/json"})

    client = openai.OpenAI(
        api_key="sk-x", base_url=TARGET.base_url, max_retries=2, http_client=http_client(httpx2.MockTransport(handler))
    )
    return OpenAIProvider(client, TARGET)


REQUEST = JobRequest(
    model="gpt-4.1-mini-2025-04-14",
    training_file="file-1",
    validation_file=None,
    method={"type": "supervised", "supervised": {}},
    suffix="x",
    seed=None,
    metadata={},
)


@pytest.mark.parametrize(
    ("status", "code", "expect", "hint"),
    [
        (401, "invalid_api_key", "rejected the API key", "OPENAI_API_KEY"),
        (403, None, "refused permission", "2027-01-06"),
        (429, "daily_rate_limit_exceeded", "daily fine-tuning job limit", "tomorrow"),
        (400, "invalid_value", "rejected the request", None),
        (500, None, "HTTP 500", "safe to repeat"),
    ],
)
def test_failures_become_one_line_with_a_hint(status: int, code: str | None, expect: str, hint: str | None) -> None:
    calls: list[int] = []
    p = provider_answering(status, code, "the server's own words", calls)
    with pytest.raises(ProviderError) as e:
        p.create_job(REQUEST)
    [d] = e.value.diagnostics
    assert expect in d.message and "the server's own words" in d.message and "\n" not in d.message
    if hint:
        assert hint in (d.hint or "")
    assert len(calls) == 1  # creating a job is never retried blindly


def test_daily_limit_is_not_retried_on_reads_either() -> None:
    calls: list[int] = []
    p = provider_answering(429, "daily_rate_limit_exceeded", "limit", calls)
    with pytest.raises(ProviderError, match="daily"):
        p.list_jobs({})
    assert len(calls) == 1


def test_connection_failure_names_the_target(tmp_path: Path) -> None:
    target = Target(name="t", kind="openai", base_url="http://127.0.0.1:9/v1", api_key_env="K")
    ws = Workspace(root=tmp_path, name="w", default_target="t", targets={"t": target}, defaults=Located({}, "", {}))
    import os

    os.environ["K"] = "secret-value"
    try:
        p = connect(ws, target)
        p._client = p._client.with_options(max_retries=0)  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as e:
            p.list_jobs({})
    finally:
        del os.environ["K"]
    assert "cannot reach http://127.0.0.1:9/v1" in e.value.diagnostics[0].message
    assert "secret-value" not in str(e.value.diagnostics)
