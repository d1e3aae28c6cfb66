"""Runs one job's stages inside the worker: file validation, hyperparameter resolution, training, finishing up."""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.job_status import JobStatus
from runner.server import ids, training
from runner.server.datadir import DataDir
from runner.server.job_hooks import JobHooks
from runner.server.job_transitions import Transition
from runner.server.objects import ORG_SLUG
from runner.server.store import Store, now
from runner.server.training import TrainingFailed, TrainingRequest, TrainingResult
from runner.server.training_data import check_file

Trainer = Callable[[TrainingRequest, training.Hooks], TrainingResult]
HyperparameterResolver = Callable[[str, str, dict[str, Any], int], dict[str, Any]]

log = logging.getLogger("runner.server.worker")

RESULT_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


@dataclass(frozen=True)
class ResumePoint:
    path: Path
    step: int


@dataclass(frozen=True)
class JobRunner:
    store: Store
    data: DataDir
    trainer: Trainer
    resolve_hyperparameters: HyperparameterResolver
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the worker is told to stop

    # -- validating_files -> queued | failed ------------------------------------------------------------------
    def validate(self, job: dict[str, Any]) -> None:
        method = job["method"]["type"]
        try:
            n = check_file(self._file_path(job["training_file"]), job["training_file"], method)
            if job["validation_file"]:
                check_file(self._file_path(job["validation_file"]), job["validation_file"], method, role="validation")
        except TrainingFailed as e:
            self._fail(job["id"], e.code, e.message, e.param)
            return
        self.store.transition(job["id"], Transition.VALIDATED, fields={"n_examples": n})

    # -- queued -> running -> succeeded | failed | cancelled | paused -----------------------------------------
    def claim(self, job_id: str) -> bool:
        return self.store.transition(job_id, Transition.STARTED)

    def resume_point(self, job: dict[str, Any]) -> ResumePoint | None:
        """The most advanced checkpoint of a job still on disk: a recorded one, or the one its trainer wrote when
        the job was paused."""
        candidates = [ResumePoint(Path(c["path"]), int(c["step"])) for c in self.store.list_checkpoints(job["id"])]
        paused = job.get("pause_checkpoint")
        if isinstance(paused, dict):
            candidates.append(ResumePoint(Path(str(paused["path"])), int(paused["step"])))
        on_disk = [c for c in candidates if c.path.is_dir()]
        return max(on_disk, key=lambda c: c.step, default=None)

    def train(self, job_id: str) -> None:
        """Train a job already claimed (status running). Never raises: every outcome ends in the store."""
        job = self.store.get_job(job_id)
        assert job is not None
        try:
            self._train(job)
        except TrainingFailed as e:
            self._fail(job_id, e.code, e.message, e.param)
        except ImportError as e:
            log.exception("job %s cannot train here", job_id)
            self._fail(
                job_id,
                "server_error",
                f"Training needs the optional 'local' dependencies (torch, transformers, peft), which could not be"
                f" imported: {e}. Install them with: pip install 'ftrun[local]'",
            )
        except Exception as e:
            log.exception("job %s failed", job_id)
            self._fail(job_id, "server_error", f"Training failed with an internal error: {type(e).__name__}: {e}")

    def _train(self, job: dict[str, Any]) -> None:
        job_id = job["id"]
        method = dict(job["method"])
        kind = method["type"]
        requested = dict(method[kind]["hyperparameters"])
        resolved = self.resolve_hyperparameters(job["base_model"], kind, requested, job["n_examples"] or 0)
        method[kind] = {**method[kind], "hyperparameters": resolved}
        if not self.store.update_job(job_id, while_in=(JobStatus.RUNNING,), method=method):
            return  # cancelled or paused before training began
        resume = self.resume_point(job)
        if resume is not None:
            self.store.add_training_event(job_id, f"Resuming training from checkpoint at step {resume.step}")
        work_dir = self.data.job_dir(job_id)
        work_dir.mkdir(parents=True, exist_ok=True)
        request = TrainingRequest(
            job_id=job_id,
            base_model=job["base_model"],
            method=kind,
            hyperparameters=resolved,
            seed=job["seed"],
            training_file=self._file_path(job["training_file"]),
            validation_file=self._file_path(job["validation_file"]) if job["validation_file"] else None,
            work_dir=work_dir,
            resume_from=None if resume is None else resume.path,
            converted_models=self.data.converted_models,
        )
        hooks = JobHooks(self.store, self.data, job_id, self.model_prefix(job), stopping=self.stopping)
        result = self.trainer(request, hooks)
        log.info("job %s: the trainer returned %s after %d steps", job_id, result.status, result.steps)
        if result.status == "cancelled" and self.stopping.is_set():  # not the client's cancel: queue it again
            latest = self.resume_point(self.store.get_job(job_id) or job)
            where = "the beginning" if latest is None else f"its checkpoint at step {latest.step}"
            self.store.transition(job_id, Transition.WORKER_STOPPED, where=where)
        elif result.status == "succeeded":
            self._succeed(job, result)
        elif result.status == "cancelled":  # the cancel request already set the status, unless the trainer chose to
            self.store.transition(job_id, Transition.TRAINER_CANCELLED)
        else:  # paused: the pause request already set the status; a trainer pausing on its own is honoured too
            self.store.transition(job_id, Transition.TRAINER_PAUSED)
            if result.checkpoint_dir is not None:  # where the resume picks up (the pause wrote no checkpoint record)
                self.store.update_job(
                    job_id,
                    while_in=(JobStatus.PAUSED, JobStatus.QUEUED),
                    pause_checkpoint={"path": str(result.checkpoint_dir), "step": result.steps},
                )

    @staticmethod
    def model_prefix(job: dict[str, Any]) -> str:
        base = job["model"].split(":")[1] if job["model"].startswith("ft:") else job["model"]
        if base.startswith("/"):  # a model directory: name it by the directory, as a hub id names its repository
            base = Path(base).name
        return f"ft:{base}:{ORG_SLUG}:{job['suffix'] or ''}"

    def _succeed(self, job: dict[str, Any], result: TrainingResult) -> None:
        job_id = job["id"]
        model_dir = result.model_dir
        if model_dir is None:
            raise TrainingFailed("server_error", "The trainer reported success but wrote no model.")
        model_id = f"{self.model_prefix(job)}:{ids.model_tag()}"
        owner = self.store.organization_id()
        file_id, size = self._write_result_file(job_id)

        def register(conn: sqlite3.Connection) -> None:
            Store.insert_file(conn, file_id, "step_metrics.csv", "fine-tune-results", size)
            Store.insert_model(conn, model_id, owner, job_id, model_dir)

        fields = {
            "fine_tuned_model": model_id,
            "trained_tokens": result.trained_tokens,
            "result_files": [file_id],
            "finished_at": now(),
            "error": None,
        }
        if not self.store.transition(job_id, Transition.SUCCEEDED, fields=fields, within=register, model=model_id):
            self.data.file_path(file_id).unlink(missing_ok=True)
            log.info("job %s finished training after it was cancelled; its model is not registered", job_id)

    def _write_result_file(self, job_id: str) -> tuple[str, int]:
        """Write the step metrics CSV under a new file id (recorded by the caller). Returns the id and size."""
        rows: dict[int, dict[str, Any]] = {}
        for event in self.store.metrics_events(job_id):
            d = event["data"] or {}
            rows[int(d["step"])] = d  # a resumed run repeats steps; the latest attempt wins
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(RESULT_COLUMNS)
        for step in sorted(rows):
            d = rows[step]
            writer.writerow(
                [
                    step,
                    _num(d.get("train_loss")),
                    _num(d.get("train_mean_token_accuracy")),
                    _num(d.get("valid_loss")),
                    _num(d.get("valid_mean_token_accuracy")),
                ]
            )
        content = buf.getvalue().encode()
        file_id = ids.file_id()
        self.data.file_path(file_id).write_bytes(content)
        return file_id, len(content)

    def _fail(self, job_id: str, code: str, message: str, param: str | None = None) -> None:
        error = {"code": code, "message": message, "param": param}
        self.store.transition(job_id, Transition.FAILED, fields={"error": error}, message=message)

    def fail_interrupted(self, job_id: str, interruptions: int) -> None:
        self._fail(
            job_id,
            "server_error",
            f"Training was interrupted {interruptions} times (the worker process stopped unexpectedly); giving up.",
        )

    def _file_path(self, file_id: str) -> Path:
        return self.data.file_path(file_id)


def _num(value: Any) -> str:
    return "" if value is None else f"{float(value):.5f}"
