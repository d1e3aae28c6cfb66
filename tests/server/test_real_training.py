"""The real trainer behind the real app: a detached worker process trains the tiny preset (paused after its first
checkpoint and resumed from it), then the model and a checkpoint chat.

Short by design (a dozen examples, a few steps on the `local/tiny` preset)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from server_testkit import HERE, sdk_client

from runner.server import create_app
from runner.server.datadir import DataDir
from runner.server.worker import Worker
from runner.server.worker_lock import worker_alive

pytestmark = [
    pytest.mark.training,
    pytest.mark.skipif(
        importlib.util.find_spec("runner.server.training.trainer") is None,
        reason="runner.server.training.trainer is not available yet",
    ),
]

STOP_BOUND_SECONDS = 2.0  # a cancelled run's training thread ends within this

QA = [
    ("What is the capital of France?", "Paris, as if you didn't know."),
    ("How many legs does a spider have?", "Eight. Count them yourself next time."),
    ("What colour is the sky?", "Blue, on a good day."),
    ("Who wrote Hamlet?", "Shakespeare. Try a library."),
]


def _examples(n: int) -> bytes:
    rows = []
    for i in range(n):
        q, a = QA[i % len(QA)]
        rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def real_client(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[openai.OpenAI]:
    monkeypatch.setenv("FTRUN_WORKER_IDLE_SECONDS", "1")
    client = sdk_client(create_app(data_dir))  # the real trainer ports, and a real worker process
    yield client
    deadline = time.monotonic() + 60
    while worker_alive(data_dir / "worker.lock") and time.monotonic() < deadline:
        time.sleep(0.2)


def _wait(client: openai.OpenAI, job_id: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while (status := client.fine_tuning.jobs.retrieve(job_id).status) not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {status}"
        time.sleep(0.5)
    return status


def test_train_tiny_preset_and_chat(real_client: openai.OpenAI, data_dir: Path) -> None:
    client = real_client
    f = client.files.create(file=("qa.jsonl", _examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="local/tiny",
        training_file=f.id,
        suffix="qa",
        seed=7,
        hyperparameters={"n_epochs": 4, "batch_size": 4},
    )
    deadline = time.monotonic() + 240
    while not client.fine_tuning.jobs.checkpoints.list(job.id).data:
        assert client.fine_tuning.jobs.retrieve(job.id).status in ("validating_files", "queued", "running")
        assert time.monotonic() < deadline, "no checkpoint yet"
        time.sleep(0.2)
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"  # waits for the paused run to stop first
    status = _wait(client, job.id)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert status == "succeeded", (done.error, (data_dir / "worker.log").read_text()[-3000:])
    assert done.fine_tuned_model is not None and done.fine_tuned_model.startswith("ft:local/tiny:personal:qa:")
    assert done.trained_tokens and done.trained_tokens > 0
    assert done.hyperparameters.n_epochs == 4 and done.hyperparameters.batch_size == 4
    metrics = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=200) if e.type == "metrics"]
    assert metrics and all(
        isinstance(e.data, dict) and e.data["total_steps"] == 12 for e in metrics
    )  # 12 examples / 4 x 4 epochs
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints][:2] == [12, 9]  # one per epoch (and the pause), the last three kept
    assert len(checkpoints) == 3
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=200)]
    assert any(m.startswith("Resuming training from checkpoint at step ") for m in messages), messages
    csv_lines = client.files.content(done.result_files[0]).text.splitlines()
    assert csv_lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv_lines) == 13

    if importlib.util.find_spec("runner.server.training.inference") is None:
        pytest.skip("runner.server.training.inference is not available yet: chat not checked")
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": QA[0][0]}], max_tokens=16, temperature=0
    )
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    ckpt = client.chat.completions.create(
        model=checkpoints[-1].fine_tuned_model_checkpoint, messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    assert ckpt.choices[0].message.content is not None


def test_real_worker_killed_mid_training_resumes(data_dir: Path) -> None:

    client = sdk_client(create_app(data_dir, start_worker=False))
    f = client.files.create(file=("qa.jsonl", _examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=f.id, seed=3, hyperparameters={"n_epochs": 4, "batch_size": 4}
    )
    command = [sys.executable, "-m", "runner.server.worker", "--data-dir", str(data_dir), "--idle-exit", "0.5"]
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    log = (data_dir / "worker.log").open("ab")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        procs.append(subprocess.Popen(command, cwd=HERE.parents[1], env=env, stdout=log, stderr=log))
        return procs[-1]

    first = start()
    try:
        deadline = time.monotonic() + 240
        while not client.fine_tuning.jobs.checkpoints.list(job.id).data:
            assert first.poll() is None and time.monotonic() < deadline, "no checkpoint before the worker stopped"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        last = client.fine_tuning.jobs.checkpoints.list(job.id).data[0].step_number
        assert start().wait(timeout=240) == 0  # resumes, finishes, then exits once idle
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", (done.error, (data_dir / "worker.log").read_text()[-3000:])
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=200)]
    assert f"Resuming training from checkpoint at step {last}" in messages
    steps = [int(line.split(",")[0]) for line in client.files.content(done.result_files[0]).text.splitlines()[1:]]
    assert steps == list(range(1, 13))


def test_cancel_mid_training_stops_the_run_and_records_nothing_after_it(data_dir: Path) -> None:
    """The worker's real trainer, in this process so that the training thread itself can be watched."""
    client = sdk_client(create_app(data_dir, start_worker=False))
    f = client.files.create(file=("qa.jsonl", _examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=f.id, seed=5, hyperparameters={"n_epochs": 50, "batch_size": 1}
    )  # 600 steps, a checkpoint every 12: far more than can run before the cancel
    worker = Worker(DataDir.at(data_dir))
    worker.step()  # validates the file
    worker.step()  # starts training in a thread
    assert worker.busy
    try:
        deadline = time.monotonic() + 240
        while not client.fine_tuning.jobs.checkpoints.list(job.id).data:  # well into training
            assert worker.busy and time.monotonic() < deadline, "no checkpoint before training ended"
            time.sleep(0.1)
        assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
        cancelled_at = time.monotonic()
        while worker.busy and time.monotonic() - cancelled_at < STOP_BOUND_SECONDS:
            time.sleep(0.05)
        assert not worker.busy, f"still training {time.monotonic() - cancelled_at:.1f} s after the cancel"
    finally:
        worker.stopping.set()  # a failed assertion must not leave the thread training
    time.sleep(1.0)  # anything the run still had to say would be written by now
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))  # newest first, every page
    assert events[0].message == "Fine-tuning job cancelled", [e.message for e in events[:5]]
    last_step = max(int(e.data["step"]) for e in events if e.type == "metrics")  # type: ignore[index]
    assert last_step < 600
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and all(c.step_number <= last_step for c in checkpoints)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "cancelled" and done.fine_tuned_model is None


@pytest.mark.slow
def test_a_job_on_two_training_processes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ftrun serve --train-processes 2` sets this variable for the worker: the job trains on two gloo processes."""
    monkeypatch.setenv("FTRUN_TRAIN_PROCESSES", "2")
    monkeypatch.setenv("FTRUN_DEVICE", "cpu")
    monkeypatch.setenv("FTRUN_WORKER_IDLE_SECONDS", "1")
    client = sdk_client(create_app(data_dir))
    f = client.files.create(file=("qa.jsonl", _examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=f.id, seed=7, hyperparameters={"n_epochs": 2, "batch_size": 4}
    )
    status = _wait(client, job.id)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert status == "succeeded", (done.error, (data_dir / "worker.log").read_text()[-3000:])
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=200)]
    assert "Training on 2 processes" in messages
    metrics = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=200) if e.type == "metrics"]
    assert sorted(e.data["step"] for e in metrics if isinstance(e.data, dict)) == [1, 2, 3, 4, 5, 6]
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id).data] == [6, 3]
    assert done.fine_tuned_model is not None
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": QA[0][0]}], max_tokens=8
    )
    assert answer.choices[0].message.content is not None
    deadline = time.monotonic() + 60
    while worker_alive(data_dir / "worker.lock") and time.monotonic() < deadline:
        time.sleep(0.2)
