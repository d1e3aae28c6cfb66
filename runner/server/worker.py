"""The job worker: one detached process per data directory that validates files and trains queued jobs.

Started by the app (`worker_launcher.start_worker`) whenever there is work and no live worker; exits after it has
been idle for a while. `ftrun serve` starts its worker with the server instead (`--server-pid`): that one warms up
its libraries at once and stays while the server runs, so the first job trains as soon as the next would.
`python -m runner.server.worker --data-dir DIR [--max-workers N] [--idle-exit SECONDS] [--server-pid PID]`.

On start it recovers jobs a dead worker left `running`: each is queued again to resume from its latest checkpoint,
or failed once it has been interrupted `MAX_INTERRUPTIONS` times. `Worker` can also be driven in-process with an
injected trainer (`run_until_idle`), which is how the unit tests exercise it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from runner.job_status import JobStatus
from runner.server import training
from runner.server.datadir import DataDir
from runner.server.job_runner import HyperparameterResolver, JobRunner, Trainer
from runner.server.job_transitions import Transition
from runner.server.store import ACTIVE_STATUSES, Store
from runner.server.worker_lock import WorkerLock, process_running

log = logging.getLogger("runner.server.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 10.0  # how long a stopping worker waits for its training threads (each stops within a step)
MAX_INTERRUPTIONS = 3  # a job whose worker died this many times is failed instead of resumed again
DEFAULT_IDLE_EXIT_SECONDS = 60.0
IDLE_EXIT_ENV = "FTRUN_WORKER_IDLE_SECONDS"  # overrides the default idle time before the worker exits
POLL_SECONDS = 0.25


class Worker:
    def __init__(
        self,
        data: DataDir,
        *,
        trainer: Trainer = training.train,
        resolve_hyperparameters: HyperparameterResolver = training.resolve_hyperparameters,
        max_workers: int = 1,
    ) -> None:
        self.data = data
        self.store = Store(data.database)
        self.stopping = threading.Event()
        self.runner = JobRunner(self.store, data, trainer, resolve_hyperparameters, self.stopping)
        self.max_workers = max(1, max_workers)
        self._threads: dict[str, threading.Thread] = {}

    # -- one pass -----------------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Requeue (or fail) jobs left `running` by a worker that died. Call only while holding the worker lock."""
        for job in self.store.jobs_with_status(JobStatus.RUNNING):
            if job["id"] in self._threads:
                continue
            interruptions = job["interruptions"] + 1
            if interruptions >= MAX_INTERRUPTIONS:
                self.runner.fail_interrupted(job["id"], interruptions)
                continue
            resume = self.runner.resume_point(job)
            where = "the beginning" if resume is None else f"its checkpoint at step {resume.step}"
            self.store.transition(
                job["id"], Transition.INTERRUPTED, fields={"interruptions": interruptions}, where=where
            )

    def step(self) -> bool:
        """Validate pending files and start queued jobs up to `max_workers`. Returns whether anything is pending."""
        self._reap()
        if self.stopping.is_set():
            return bool(self._threads)
        for job in self.store.jobs_with_status(JobStatus.VALIDATING_FILES):
            self.runner.validate(job)
        for job in self.store.jobs_with_status(JobStatus.QUEUED):
            if len(self._threads) >= self.max_workers:
                break
            if job["id"] in self._threads or not self.runner.claim(job["id"]):
                continue
            thread = threading.Thread(target=self.runner.train, args=(job["id"],), name=job["id"], daemon=True)
            self._threads[job["id"]] = thread
            thread.start()
        return bool(self._threads) or bool(self.store.jobs_with_status(JobStatus.VALIDATING_FILES, JobStatus.QUEUED))

    def _reap(self) -> None:
        for job_id, thread in list(self._threads.items()):
            if not thread.is_alive():
                del self._threads[job_id]

    @property
    def busy(self) -> bool:
        self._reap()
        return bool(self._threads)

    def run_until_idle(self, timeout: float = 30.0) -> None:
        """In-process driving (tests): loop until nothing is pending or running."""
        deadline = time.monotonic() + timeout
        while self.step():
            if time.monotonic() > deadline:
                raise TimeoutError("the worker still had work after the timeout")
            time.sleep(0.01)

    # -- the process --------------------------------------------------------------------------------------------
    def serve(self, idle_exit: float = DEFAULT_IDLE_EXIT_SECONDS, server_pid: int | None = None) -> int:
        """Work until idle for `idle_exit` seconds; with `server_pid`, warm up first, and stay while that process
        runs (then exit once idle)."""
        lock = WorkerLock(self.data.worker_lock)
        if not lock.acquire():
            log.info("another worker holds %s; exiting", self.data.worker_lock)
            return 0
        log.info("worker started for %s (max_workers=%d)", self.data.root, self.max_workers)
        self._stop_on_signals()
        try:
            if server_pid is not None:
                _warm_up()
                self.data.worker_ready.write_text(str(os.getpid()))
            while True:
                self.recover()
                idle_since = time.monotonic()
                while True:
                    if self.stopping.is_set():
                        return self._stop()
                    if self.step():
                        idle_since = time.monotonic()
                    elif _idle_over(idle_since, idle_exit, server_pid):
                        break
                    time.sleep(POLL_SECONDS)
                # Let go of the lock, then look once more: work queued by an app that saw the lock still held
                # would otherwise wait for the next request to start a worker.
                lock.release()
                if not self.store.jobs_with_status(*ACTIVE_STATUSES) or not lock.acquire():
                    log.info("worker idle; exiting")
                    return 0
        finally:
            if server_pid is not None:
                self.data.worker_ready.unlink(missing_ok=True)
            lock.release()

    def _stop_on_signals(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("worker told to stop (%s); stopping its training runs", signal.Signals(signum).name)
            self.stopping.set()

        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                signal.signal(s, stop)

    def _stop(self) -> int:
        """Let every training thread see the stop (they requeue their jobs), then exit."""
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in list(self._threads.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        log.info("worker stopped")
        return 0


def _warm_up() -> None:
    started = time.monotonic()
    try:
        training.warm_up()
    except ImportError as e:  # jobs will say what is missing when they try to train
        log.warning("cannot warm up for training: %s", e)
        return
    except Exception:  # jobs still run; they pay for what the warm-up did not do
        log.exception("warming up for training failed")
        return
    log.info("ready to train (warmed up in %.1f s)", time.monotonic() - started)


def _idle_over(idle_since: float, idle_exit: float, server_pid: int | None) -> bool:
    if server_pid is not None:
        return not process_running(server_pid)
    return time.monotonic() - idle_since >= idle_exit


def _load_trainer(module_name: str) -> tuple[Trainer, HyperparameterResolver]:
    module = importlib.import_module(module_name)
    return cast(Trainer, module.train), cast(HyperparameterResolver, module.resolve_hyperparameters)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.server.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--max-workers", type=int, default=1)
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=float(os.environ.get(IDLE_EXIT_ENV, DEFAULT_IDLE_EXIT_SECONDS)),
        help=f"seconds idle before exiting (default: ${IDLE_EXIT_ENV} or {DEFAULT_IDLE_EXIT_SECONDS:g})",
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        help="the `ftrun serve` process this worker belongs to: warm up at once and stay while it runs",
    )
    parser.add_argument(
        "--trainer-module",
        default="runner.server.training",
        help="the module providing train() and resolve_hyperparameters() (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    trainer, resolver = _load_trainer(args.trainer_module)
    worker = Worker(
        DataDir.at(args.data_dir), trainer=trainer, resolve_hyperparameters=resolver, max_workers=args.max_workers
    )
    return worker.serve(idle_exit=args.idle_exit, server_pid=args.server_pid)


if __name__ == "__main__":
    sys.exit(main())
