"""The detached worker process: started by the app, one per data dir, and surviving a SIGKILL mid-training."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
import server_fakes
from server_testkit import HERE, chat_examples, sdk_client, with_fakes

from runner.server import create_app
from runner.server.datadir import DataDir
from runner.server.worker import MAX_INTERRUPTIONS, Worker
from runner.server.worker_lock import worker_alive

REPO = HERE.parents[1]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class WorkerProcesses:
    """Starts fake-trainer workers as real subprocesses and makes sure none outlives the test."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, step_seconds: float = 0.0, idle_exit: float = 0.5) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
            server_fakes.STEP_SECONDS_ENV: str(step_seconds),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner.server.worker", "--data-dir", str(self.data_dir),
             "--trainer-module", "server_fakes", "--idle-exit", str(idle_exit)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


@pytest.fixture
def processes(data_dir: Path) -> Iterator[WorkerProcesses]:
    w = WorkerProcesses(data_dir)
    yield w
    w.stop_all()


def _status(data_dir: Path, job_id: str) -> str:
    with sqlite3.connect(data_dir / "ftrun.sqlite3") as db:
        return str(db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


def _checkpoints(data_dir: Path, job_id: str) -> list[int]:
    with sqlite3.connect(data_dir / "ftrun.sqlite3") as db:
        return [r[0] for r in db.execute("SELECT step FROM checkpoints WHERE job_id=? ORDER BY step", (job_id,))]


def test_sigkill_mid_training_then_resume_from_checkpoint(
    client: openai.OpenAI, training_file: str, data_dir: Path, processes: WorkerProcesses
) -> None:
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=training_file, hyperparameters={"n_epochs": 9}
    )
    first = processes.start(step_seconds=0.3)
    wait_for(lambda: bool(_checkpoints(data_dir, job.id)), what="the first checkpoint")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    last = max(_checkpoints(data_dir, job.id))
    assert last < 27 and _status(data_dir, job.id) == "running"  # left behind by the dead worker, mid-training
    assert not worker_alive(data_dir / "worker.lock")  # the kernel let go of the lock

    second = processes.start()
    assert second.wait(timeout=60) == 0  # trains, then exits once idle
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", done.error
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=200)]
    assert f"Training was interrupted (the worker stopped); resuming from its checkpoint at step {last}" in messages
    assert f"fake trainer resumed at step {last}" in messages
    rows = client.files.content(done.result_files[0]).text.splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, 28))  # replayed steps are not duplicated


def test_a_job_interrupted_too_often_fails_cleanly(client: openai.OpenAI, training_file: str, worker: Worker) -> None:
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=training_file)
    worker.runner.validate(worker.store.get_job(job.id))  # type: ignore[arg-type]
    for _ in range(MAX_INTERRUPTIONS - 1):  # a worker dies under the job, and the next one requeues it
        assert worker.runner.claim(job.id)
        worker.recover()
        assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    assert worker.runner.claim(job.id)
    worker.recover()
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "server_error" and "interrupted 3 times" in failed.error.message


def test_one_worker_per_data_dir(client: openai.OpenAI, training_file: str, processes: WorkerProcesses) -> None:
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=training_file, hyperparameters={"n_epochs": 50}
    )  # 150 steps of 0.2 s: still training while the second worker starts
    first = processes.start(step_seconds=0.2)
    wait_for(lambda: _status(processes.data_dir, job.id) == "running", what="the first worker to train")
    second = processes.start()
    assert second.wait(timeout=60) == 0  # found the lock taken and left
    assert first.poll() is None and _status(processes.data_dir, job.id) == "running"
    client.fine_tuning.jobs.cancel(job.id)
    assert first.wait(timeout=60) == 0  # the trainer saw the cancel, then the worker went idle and exited
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"


def test_app_starts_a_detached_worker(
    data_dir: Path, generator: server_fakes.FakeGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTRUN_WORKER_IDLE_SECONDS", "0.5")
    app = with_fakes(create_app(data_dir), generator)
    client = sdk_client(app)
    few = client.files.create(file=("few.jsonl", chat_examples(3)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=few.id)
    # validation runs in the worker process, not in this one
    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id).status == "failed", what="the worker to validate")
    assert client.fine_tuning.jobs.retrieve(job.id).error.code == "invalid_n_examples"  # type: ignore[union-attr]
    wait_for(lambda: not worker_alive(data_dir / "worker.lock"), what="the idle worker to exit")
    assert "worker started" in (data_dir / "worker.log").read_text()


def test_worker_in_process_needs_no_lock_for_recovery(data_dir: Path) -> None:
    w = Worker(DataDir.at(data_dir), trainer=server_fakes.train)
    w.recover()  # nothing to do on an empty store
    assert not w.busy


def test_a_worker_told_to_stop_requeues_its_job_and_records_nothing_more(
    client: openai.OpenAI, training_file: str, data_dir: Path, processes: WorkerProcesses
) -> None:
    job = client.fine_tuning.jobs.create(
        model="local/tiny", training_file=training_file, hyperparameters={"n_epochs": 50}
    )  # 150 steps of 0.05 s
    first = processes.start(step_seconds=0.05)
    wait_for(lambda: bool(_checkpoints(data_dir, job.id)), what="the first checkpoint")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0  # stopped its run, then exited
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))  # newest first
    assert events[0].message.startswith(
        "Training stopped (the worker was told to stop); it resumes from its checkpoint"
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    time.sleep(0.5)
    assert len(list(client.fine_tuning.jobs.list_events(job.id, limit=100))) == len(events)

    second = processes.start()
    assert second.wait(timeout=60) == 0
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", done.error
    rows = client.files.content(done.result_files[0]).text.splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, 151))


def test_ftrun_serve_starts_a_warm_worker_that_stays_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from processes import serving

    monkeypatch.setenv("FTRUN_WORKER_IDLE_SECONDS", "0.5")  # a worker started for work would be gone long before
    data_dir = tmp_path / "data"
    lock = data_dir / "worker.lock"
    with serving(data_dir):  # answers once its worker is ready to train
        assert worker_alive(lock)
        assert "ready to train" in (data_dir / "worker.log").read_text()
        assert (data_dir / "worker.ready").is_file()
        time.sleep(2.0)
        assert worker_alive(lock)  # idle, and still there
    wait_for(lambda: not worker_alive(lock), what="the worker to exit with the server")
    assert not (data_dir / "worker.ready").exists()
