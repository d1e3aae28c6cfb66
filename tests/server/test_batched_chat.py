"""Concurrent chat requests against a real `ftrun serve`, through the real SDK: batched into one `generate`, each
answers as it would alone (greedy and seeded sampling, whole and streamed), the very first requests included."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from processes import serving
from server_testkit import chat_examples

pytestmark = [
    pytest.mark.training,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs the local extra"),
]

CLIENTS = 8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[openai.OpenAI, str]]:
    """`ftrun serve` with one fine-tuned tiny model; no chat request has reached it yet."""
    with serving(tmp_path_factory.mktemp("batched") / "data") as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        data = client.files.create(file=("marv.jsonl", chat_examples(12), "application/jsonl"), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model="local/tiny", training_file=data.id, hyperparameters={"n_epochs": 3}, seed=7
        )
        deadline = time.monotonic() + 300
        while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.5)
        assert job.status == "succeeded", job.error
        assert job.fine_tuned_model is not None
        yield client, job.fine_tuned_model


def _question(i: int) -> list[ChatCompletionMessageParam]:
    return [
        {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
        {"role": "user", "content": f"Question number {i}?" + " Really?" * (i % 3)},  # prompts of several lengths
    ]


def _ask(client: openai.OpenAI, model: str, i: int, *, streamed: bool | None = None) -> str:
    """Client i's answer: even clients ask greedily, odd ones sample with a seed; every third streams."""
    temperature, seed = (0.9, 100 + i) if i % 2 else (0.0, None)
    if i % 3 == 0 if streamed is None else streamed:
        chunks = client.chat.completions.create(
            model=model, messages=_question(i), max_tokens=20, stream=True, temperature=temperature, seed=seed
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    answer = client.chat.completions.create(
        model=model, messages=_question(i), max_tokens=20, temperature=temperature, seed=seed
    )
    return answer.choices[0].message.content or ""


def test_concurrent_first_requests_answer_as_each_would_alone(served: tuple[openai.OpenAI, str]) -> None:
    client, model = served
    with ThreadPoolExecutor(CLIENTS) as pool:  # the server's first chat requests, all at once
        together = list(pool.map(lambda i: _ask(client, model, i), range(CLIENTS)))
    alone = [_ask(client, model, i) for i in range(CLIENTS)]
    assert together == alone
    assert len(set(alone)) > 1  # the prompts and seeds make different answers: the comparison can tell rows apart


def test_several_choices_in_a_batch(served: tuple[openai.OpenAI, str]) -> None:
    client, model = served

    def choices(seed: int) -> list[str]:
        answer = client.chat.completions.create(
            model=model, messages=_question(seed), max_tokens=12, n=3, temperature=1.0, seed=seed
        )
        return [c.message.content or "" for c in answer.choices]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(choices, range(4)))
    assert together == [choices(seed) for seed in range(4)]


def test_greedy_answers_to_one_prompt_asked_together_are_one_answer(served: tuple[openai.OpenAI, str]) -> None:
    client, model = served
    with ThreadPoolExecutor(CLIENTS) as pool:  # half of them streamed
        answers = list(pool.map(lambda i: _ask(client, model, 2, streamed=i % 2 == 0), range(CLIENTS)))
    assert set(answers) == {_ask(client, model, 2, streamed=False)}
