"""`/v1/models` and `/v1/chat/completions` through the real SDK."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
import server_fakes

from runner.server.worker import Worker


@pytest.fixture
def trained(client: openai.OpenAI, worker: Worker, training_file: str) -> str:
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=training_file, suffix="marv")
    worker.run_until_idle()
    return job.id


def test_list_and_retrieve(client: openai.OpenAI, trained: str) -> None:
    job = client.fine_tuning.jobs.retrieve(trained)
    checkpoints = [c.fine_tuned_model_checkpoint for c in client.fine_tuning.jobs.checkpoints.list(trained)]
    ids = [m.id for m in client.models.list()]
    assert ids[:2] == ["local/tiny", "fake/base"]
    assert job.fine_tuned_model in ids and set(checkpoints) <= set(ids)
    m = client.models.retrieve(job.fine_tuned_model or "")
    assert (m.id, m.object, m.owned_by) == (job.fine_tuned_model, "model", job.organization_id)
    assert client.models.retrieve("local/tiny").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("ft:nope")
    assert (e.value.code, e.value.param) == ("model_not_found", "model")


def test_delete_fine_tuned_model(client: openai.OpenAI, trained: str, data_dir: Path) -> None:
    model = client.fine_tuning.jobs.retrieve(trained).fine_tuned_model or ""
    final = data_dir / "jobs" / trained / "final"
    assert final.is_dir()
    deleted = client.models.delete(model)
    assert (deleted.id, deleted.object, deleted.deleted) == (model, "model", True)
    assert not final.exists()
    assert model not in [m.id for m in client.models.list()]
    with pytest.raises(openai.NotFoundError):
        client.models.delete(model)
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("local/tiny")


def test_chat_with_fine_tuned_model_and_checkpoint(
    client: openai.OpenAI, trained: str, generator: server_fakes.FakeGenerator, data_dir: Path
) -> None:
    model = client.fine_tuning.jobs.retrieve(trained).fine_tuned_model or ""
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be Marv."}, {"role": "user", "content": "hello there"}],
        max_completion_tokens=7,
        temperature=0.2,
        top_p=0.9,
        seed=3,
        stop=["\n", "END"],
        n=2,
    )
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-") and answer.model == model
    assert [c.message.content for c in answer.choices] == ["echo: hello there"] * 2
    assert [c.index for c in answer.choices] == [0, 1] and answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.prompt_tokens == 4 and answer.usage.completion_tokens == 3
    assert answer.usage.total_tokens == 7
    path, messages, params = generator.calls[-1]
    assert path == data_dir / "jobs" / trained / "final"
    assert messages[-1] == {"role": "user", "content": "hello there"}
    assert (params.max_tokens, params.temperature, params.top_p, params.seed, tuple(params.stop), params.n) == (
        7,
        0.2,
        0.9,
        3,
        ("\n", "END"),
        2,
    )
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], max_tokens=5)
    assert generator.calls[-1][2].max_tokens == 5

    checkpoint = client.fine_tuning.jobs.checkpoints.list(trained).data[0]
    client.chat.completions.create(
        model=checkpoint.fine_tuned_model_checkpoint, messages=[{"role": "user", "content": "from a checkpoint"}]
    )
    assert generator.calls[-1][0].name == f"checkpoint-{checkpoint.step_number}"


def test_chat_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(
            model="ft:unknown:personal::abcdefgh", messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.code == "model_not_found"
    assert e.value.body == {
        "message": "The model 'ft:unknown:personal::abcdefgh' does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="local/tiny", messages=[])
    assert bad.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="local/tiny", messages=[{"role": "user", "content": "x"}], temperature=3)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="local/tiny", messages=[{"role": "user", "content": "x"}], n=0)
    assert bad.value.param == "n"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="local/tiny", messages=[{"role": "user", "content": "x"}], n=128, max_tokens=100_000
        )
    assert bad.value.param == "max_tokens" and "at most 65536 tokens" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="local/tiny", messages=[{"role": "robot", "content": "x"}])  # type: ignore[misc,list-item]
    assert bad.value.param == "messages[0].role"
