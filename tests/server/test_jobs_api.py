"""`/v1/fine_tuning/jobs` through the real SDK, with the worker driven in-process on a fake trainer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import server_fakes
from server_testkit import chat_examples, error_of, preference_examples

from runner.server.worker import Worker

FT_MODEL = re.compile(r"^ft:local/tiny:personal:marv:[A-Za-z0-9]{8}$")


def _create(client: openai.OpenAI, training_file: str, **kw: Any) -> Any:
    return client.fine_tuning.jobs.create(model="local/tiny", training_file=training_file, **kw)


def test_create_returns_validating_job(client: openai.OpenAI, training_file: str) -> None:
    job = _create(client, training_file, suffix="marv", metadata={"experiment": "marv"})
    assert job.id.startswith("ftjob-") and job.object == "fine_tuning.job"
    assert job.status == "validating_files"
    assert (job.fine_tuned_model, job.finished_at, job.trained_tokens, job.result_files) == (None, None, None, [])
    assert job.error is not None and job.error.code is None  # `error: {}` like the real API
    assert 0 <= job.seed <= 2_147_483_647
    assert job.method is not None and job.method.type == "supervised"
    assert job.hyperparameters.n_epochs == "auto"
    assert re.fullmatch(r"org-[A-Za-z0-9]{24}", job.organization_id)
    assert job.metadata == {"experiment": "marv"}
    assert client.fine_tuning.jobs.retrieve(job.id) == job
    explicit = _create(client, training_file, seed=42)
    assert explicit.seed == 42


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"suffix": "x" * 65}, "suffix"),
        ({"suffix": ""}, "suffix"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"hyperparameters": {"n_epochs": 51}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"batch_size": 257}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate_multiplier": 0}}, "hyperparameters.learning_rate_multiplier"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"batch_size": True}}}},
            "method.supervised.hyperparameters.batch_size",
        ),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 2.5}}}}, "method.dpo.hyperparameters.beta"),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0}}}}, "method.dpo.hyperparameters.beta"),
        ({"method": {"type": "reinforcement"}}, "method.type"),
        ({"method": {"type": "bogus"}}, "method.type"),
        ({"integrations": [{"type": "slack"}]}, "integrations"),
        ({"surprise": 1}, "surprise"),
        ({"model": "gpt-nonexistent"}, "model"),
        ({"training_file": "file-doesnotexist0000000000"}, "training_file"),
        ({"training_file": "../../etc/passwd"}, "training_file"),
        ({"validation_file": "file-doesnotexist0000000000"}, "validation_file"),
    ],
)
def test_create_validation(http: httpx2.Client, training_file: str, body: dict[str, Any], param: str) -> None:
    r = http.post("/v1/fine_tuning/jobs", json={"model": "local/tiny", "training_file": training_file, **body})
    assert r.status_code == 400, r.text
    error = error_of(r)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    if param == "model":
        assert error["code"] == "model_not_available"
    assert http.get("/v1/fine_tuning/jobs").json()["data"] == []


def test_limits_are_inclusive(client: openai.OpenAI, training_file: str) -> None:
    job = _create(
        client,
        training_file,
        suffix="s" * 64,
        metadata={f"k{i:02d}".ljust(64, "k"): "v" * 512 for i in range(16)},
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 2, "n_epochs": 50, "batch_size": 256}}},
    )
    assert job.user_provided_suffix == "s" * 64  # type: ignore[attr-defined]
    assert job.hyperparameters is None  # null for DPO, like the real API
    assert job.method is not None and job.method.dpo is not None


def test_file_with_wrong_purpose(client: openai.OpenAI) -> None:
    f = client.files.create(file=("b.jsonl", chat_examples(12)), purpose="batch")
    with pytest.raises(openai.BadRequestError) as e:
        _create(client, f.id)
    assert e.value.param == "training_file"


def test_successful_job(client: openai.OpenAI, worker: Worker, training_file: str, data_dir: Path) -> None:
    validation = client.files.create(file=("v.jsonl", chat_examples(3)), purpose="fine-tune").id
    job = _create(client, training_file, validation_file=validation, suffix="marv", hyperparameters={"n_epochs": 5})
    worker.run_until_idle()
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model is not None and FT_MODEL.match(done.fine_tuned_model)
    assert done.trained_tokens == 100 * 15 and done.finished_at is not None
    assert done.hyperparameters.n_epochs == 5 and done.hyperparameters.batch_size == 1  # "auto" resolved
    assert done.hyperparameters.learning_rate_multiplier == 1.0

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    messages = [e.message for e in reversed(events)]  # listed newest first
    assert messages[:4] == [
        f"Created fine-tuning job: {job.id}",
        f"Validating training file: {training_file}",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
    ]
    assert messages[-2:] == [
        f"New fine-tuned model created: {done.fine_tuned_model}",
        "The job has successfully completed",
    ]
    metrics = [e for e in reversed(events) if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == list(range(1, 16))  # type: ignore[index]
    assert metrics[0].message == "Step 1/15: training loss=1.00, validation loss=2.00"
    assert metrics[0].data["total_steps"] == 15 and metrics[0].data["valid_loss"] == 2.0  # type: ignore[index]
    assert all(e.id.startswith("ftevent-") for e in events)

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [15, 12, 9]  # one per epoch, the last three kept
    for c in checkpoints:
        assert c.id.startswith("ftckpt_") and c.fine_tuning_job_id == job.id
        assert re.fullmatch(
            rf"ft:local/tiny:personal:marv:[A-Za-z0-9]{{8}}:ckpt-step-{c.step_number}", c.fine_tuned_model_checkpoint
        )
    assert checkpoints[0].metrics.train_loss == pytest.approx(1 / 15)
    job_dir = data_dir / "jobs" / job.id
    assert sorted(p.name for p in job_dir.iterdir() if p.name.startswith("checkpoint-")) == [
        "checkpoint-12",
        "checkpoint-15",
        "checkpoint-9",
    ]  # pruned ones are deleted from disk

    (result_id,) = done.result_files
    result = client.files.retrieve(result_id)
    assert result.purpose == "fine-tune-results"
    lines = client.files.content(result_id).text.splitlines()
    assert lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert lines[1] == "1,1.00000,0.50000,2.00000,0.25000" and len(lines) == 16


def test_list_newest_first_pagination_and_metadata_filter(client: openai.OpenAI, training_file: str) -> None:
    created = [_create(client, training_file, metadata={"n": str(i), "group": "ab"[i % 2]}).id for i in range(5)]
    plain = _create(client, training_file).id
    page = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [plain, created[4]] and page.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == [plain, *reversed(created)]
    after = client.fine_tuning.jobs.list(after=created[2], limit=10)
    assert [j.id for j in after.data] == [created[1], created[0]] and not after.has_more
    group_a = client.fine_tuning.jobs.list(metadata={"group": "a"})
    assert [j.id for j in group_a] == [created[4], created[2], created[0]]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"group": "a", "n": "2"})] == [created[2]]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"group": "a"}, limit=1, after=created[4])] == [
        created[2],
        created[0],
    ]
    no_metadata = client.fine_tuning.jobs.list(extra_query={"metadata": "null"})
    assert [j.id for j in no_metadata] == [plain]


def test_cancel_and_terminal_cancel_is_400(client: openai.OpenAI, worker: Worker, training_file: str) -> None:
    job = _create(client, training_file)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    worker.run_until_idle()
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.cancel(job.id)
    assert "already cancelled" in e.value.message
    done = _create(client, training_file)
    worker.run_until_idle()
    with pytest.raises(openai.BadRequestError, match="already completed"):
        client.fine_tuning.jobs.cancel(done.id)
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.cancel("ftjob-doesnotexist0000000000")


def test_pause_queued_job_and_resume(client: openai.OpenAI, worker: Worker, training_file: str) -> None:
    job = _create(client, training_file)
    worker.runner.validate(worker.store.get_job(job.id))  # type: ignore[arg-type]
    assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    worker.run_until_idle()
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    worker.run_until_idle()
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.resume(job.id)


def test_pause_running_job_resumes_from_checkpoint(client: openai.OpenAI, data_dir: Path, training_file: str) -> None:
    from runner.server.datadir import DataDir

    resumed_from: list[Path | None] = []

    class PausingHooks:
        def __init__(self, hooks: Any, job_id: str) -> None:
            self.hooks, self.job_id = hooks, job_id

        def __getattr__(self, name: str) -> Any:
            return getattr(self.hooks, name)

        def metrics(self, m: Any) -> None:
            self.hooks.metrics(m)
            if m.step == 4 and not resumed_from[1:]:
                assert client.fine_tuning.jobs.pause(self.job_id).status == "paused"

    def trainer(request: Any, hooks: Any) -> Any:
        resumed_from.append(request.resume_from)
        fast_hooks = PausingHooks(hooks, request.job_id)
        hooks._poll_seconds = 0  # see the pause at the next step
        return server_fakes.train(request, fast_hooks)  # type: ignore[arg-type]

    w = Worker(DataDir.at(data_dir), trainer=trainer, resolve_hyperparameters=server_fakes.resolve_hyperparameters)
    job = _create(client, training_file, hyperparameters={"n_epochs": 3})
    w.run_until_idle()
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    # the pause's own checkpoint is the resume point, not a record: nothing is recorded for a paused job
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id)] == [3]
    client.fine_tuning.jobs.resume(job.id)
    w.run_until_idle()
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert resumed_from[0] is None and resumed_from[1] is not None and resumed_from[1].name == "checkpoint-4"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages
    assert "Resuming training from checkpoint at step 4" in messages


def test_too_few_examples_fails_validation(client: openai.OpenAI, worker: Worker) -> None:
    f = client.files.create(file=("few.jsonl", chat_examples(7)), purpose="fine-tune")
    job = _create(client, f.id)
    worker.run_until_idle()
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.finished_at is None
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_n_examples", "training_file")
    assert failed.error.message == "Training file has 7 example(s), but must have at least 10 examples"


@pytest.mark.parametrize(
    ("content", "method", "fragment"),
    [
        (
            chat_examples(12),
            {"type": "dpo"},
            "is in the fine-tune-chat format, but the specified fine-tuning job is not using 'supervised'",
        ),
        (preference_examples(12), None, "is in the fine-tune-preference format"),
        (b"not json\n" + chat_examples(12), None, "line 1 is not valid JSON"),
        (b'{"messages": [{"role": "user", "content": "no answer"}]}\n' * 12, None, "no assistant message"),
    ],
)
def test_invalid_training_file(
    client: openai.OpenAI, worker: Worker, content: bytes, method: dict[str, Any] | None, fragment: str
) -> None:
    f = client.files.create(file=("bad.jsonl", content), purpose="fine-tune")
    job = _create(client, f.id, **({"method": method} if method else {}))
    worker.run_until_idle()
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "invalid_training_file"
    assert fragment in failed.error.message


def test_dpo_job_trains(client: openai.OpenAI, worker: Worker) -> None:
    f = client.files.create(file=("p.jsonl", preference_examples(10)), purpose="fine-tune")
    job = _create(client, f.id, method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1}}})
    worker.run_until_idle()
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.hyperparameters is None
    assert done.method is not None and done.method.dpo is not None
    assert done.method.dpo.hyperparameters is not None and done.method.dpo.hyperparameters.beta == 0.1


def test_trainer_errors_fail_the_job(
    client: openai.OpenAI, worker: Worker, training_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    known = _create(client, training_file, seed=server_fakes.SEED_TRAINING_FAILED)
    crash = _create(client, training_file, seed=server_fakes.SEED_CRASH)
    worker.run_until_idle()
    a = client.fine_tuning.jobs.retrieve(known.id)
    assert a.status == "failed" and a.error is not None
    assert (a.error.code, a.error.message, a.error.param) == (
        "model_not_found",
        "The base model cannot be loaded.",
        "model",
    )
    b = client.fine_tuning.jobs.retrieve(crash.id)
    assert b.status == "failed" and b.error is not None
    assert b.error.code == "server_error" and "the fake trainer crashed" in b.error.message
    assert client.fine_tuning.jobs.list_events(crash.id).data[0].level == "error"
    assert "Traceback" in caplog.text and "the fake trainer crashed" in caplog.text  # the worker log keeps the trace


def test_missing_training_dependencies_fail_clearly(client: openai.OpenAI, data_dir: Path, training_file: str) -> None:
    from runner.server.datadir import DataDir

    def trainer(request: Any, hooks: Any) -> Any:
        raise ModuleNotFoundError("No module named 'torch'")

    w = Worker(DataDir.at(data_dir), trainer=trainer, resolve_hyperparameters=server_fakes.resolve_hyperparameters)
    job = _create(client, training_file)
    w.run_until_idle()
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert "pip install 'ftrun[local]'" in failed.error.message and "torch" in failed.error.message


def test_max_workers_trains_jobs_side_by_side(data_dir: Path, client: openai.OpenAI, training_file: str) -> None:
    import threading

    started = threading.Barrier(2, timeout=10)
    calls: list[str] = []

    def meeting_trainer(request: Any, hooks: Any) -> Any:
        calls.append(request.job_id)
        if len(calls) <= 2:
            started.wait()  # the first two jobs must be training at the same time to get past this
        return server_fakes.train(request, hooks)

    from runner.server.datadir import DataDir

    w = Worker(
        DataDir.at(data_dir),
        trainer=meeting_trainer,
        resolve_hyperparameters=server_fakes.resolve_hyperparameters,
        max_workers=2,
    )
    jobs = [_create(client, training_file).id for _ in range(3)]
    w.run_until_idle()
    assert [client.fine_tuning.jobs.retrieve(j).status for j in jobs] == ["succeeded"] * 3
    assert calls[:2] == jobs[:2] or calls[:2] == jobs[1::-1]


def test_events_pagination(client: openai.OpenAI, worker: Worker, training_file: str) -> None:
    job = _create(client, training_file)
    worker.run_until_idle()
    everything = [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    first = client.fine_tuning.jobs.list_events(job.id, limit=3)
    assert [e.id for e in first.data] == everything[:3] and first.has_more
    assert [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=3)] == everything


def test_cancel_stops_a_running_trainer(
    client: openai.OpenAI, data_dir: Path, training_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.server.datadir import DataDir

    monkeypatch.setenv(server_fakes.STEP_SECONDS_ENV, "0.02")  # 150 steps take 3 s; control is read every 0.25 s

    seen_steps: list[int] = []

    class CancellingHooks:
        def __init__(self, hooks: Any, job_id: str) -> None:
            self.hooks, self.job_id = hooks, job_id

        def __getattr__(self, name: str) -> Any:
            return getattr(self.hooks, name)

        def metrics(self, m: Any) -> None:
            self.hooks.metrics(m)
            seen_steps.append(m.step)
            if m.step == 2:
                assert client.fine_tuning.jobs.cancel(self.job_id).status == "cancelled"

    def trainer(request: Any, hooks: Any) -> Any:
        return server_fakes.train(request, CancellingHooks(hooks, request.job_id))  # type: ignore[arg-type]

    w = Worker(DataDir.at(data_dir), trainer=trainer, resolve_hyperparameters=server_fakes.resolve_hyperparameters)
    job = _create(client, training_file, hyperparameters={"n_epochs": 50})
    w.run_until_idle()
    cancelled = client.fine_tuning.jobs.retrieve(job.id)
    assert cancelled.status == "cancelled" and cancelled.fine_tuned_model is None
    # the step after the cancel was refused by the store, which told the run to stop before its next step
    assert seen_steps[-1] <= 3
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    assert events[0].message == "Fine-tuning job cancelled"
    assert [e.data["step"] for e in events if e.type == "metrics"] == [2, 1]  # type: ignore[index]


def test_control_reads_the_status_at_most_every_poll_interval(client: openai.OpenAI, worker: Worker) -> None:
    from runner.server.job_hooks import JobHooks

    f = client.files.create(file=("t.jsonl", chat_examples(12)), purpose="fine-tune")
    job = _create(client, f.id)
    worker.runner.validate(worker.store.get_job(job.id))  # type: ignore[arg-type]
    assert worker.runner.claim(job.id)
    now = [100.0]
    hooks = JobHooks(worker.store, worker.data, job.id, "ft:x:personal:", poll_seconds=0.5, clock=lambda: now[0])
    assert hooks.control() == "continue"
    client.fine_tuning.jobs.pause(job.id)
    now[0] += 0.4
    assert hooks.control() == "continue"  # cached: no read yet
    now[0] += 0.1
    assert hooks.control() == "pause"
    client.fine_tuning.jobs.cancel(job.id)
    now[0] += 0.5
    assert hooks.control() == "cancel"
