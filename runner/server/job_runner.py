"""Runs one job's stages inside the worker: file validation, hyperparameter resolution, training, finishing up."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.server import ids, training
from runner.server.datadir import DataDir
from runner.server.job_hooks import JobHooks
from runner.server.objects import ORG_SLUG
from runner.server.store import Store, now
from runner.server.training import TrainingFailed, TrainingRequest, TrainingResult
from runner.server.training_data import check_file

Trainer = Callable[[TrainingRequest, training.Hooks], TrainingResult]
HyperparameterResolver = Callable[[str, str, dict[str, Any], int], dict[str, Any]]

log = logging.getLogger("runner.server.worker")

RESULT_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


@dataclass(frozen=True)
class JobRunner:
    store: Store
    data: DataDir
    trainer: Trainer
    resolve_hyperparameters: HyperparameterResolver

    # -- validating_files -> queued | failed ------------------------------------------------------------------
    def validate(self, job: dict[str, Any]) -> None:
        method = job["method"]["type"]
        try:
            n = check_file(self._file_path(job["training_file"]), job["training_file"], method)
            if job["validation_file"]:
                check_file(self._file_path(job["validation_file"]), job["validation_file"], method, role="validation")
        except TrainingFailed as e:
            self._fail(job["id"], e.code, e.message, e.param, expect=("validating_files",))
            return
        self.store.update_job(
            job["id"],
            expect=("validating_files",),
            event=("info", "Files validated, moving job to queued state"),
            status="queued",
            n_examples=n,
        )

    # -- queued -> running -> succeeded | failed | cancelled | paused -----------------------------------------
    def claim(self, job_id: str) -> bool:
        return self.store.update_job(
            job_id, expect=("queued",), event=("info", "Fine-tuning job started"), status="running"
        )

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
        self.store.update_job(job_id, method=method)
        checkpoints = self.store.list_checkpoints(job_id)
        resume_from = next((Path(c["path"]) for c in checkpoints if Path(c["path"]).is_dir()), None)
        if resume_from is not None:
            self.store.add_event(job_id, f"Resuming training from checkpoint at step {checkpoints[0]['step']}")
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
            resume_from=resume_from,
        )
        hooks = JobHooks(self.store, self.data, job_id, self.model_prefix(job))
        result = self.trainer(request, hooks)
        if result.status == "succeeded":
            self._succeed(job, result)
        elif result.status == "cancelled":
            self.store.update_job(
                job_id, expect=("running",), event=("info", "Fine-tuning job cancelled"), status="cancelled"
            )
        else:  # paused: the pause request already set the status; a trainer pausing on its own is honoured too
            self.store.update_job(
                job_id, expect=("running",), event=("info", "Fine-tuning job paused"), status="paused"
            )

    @staticmethod
    def model_prefix(job: dict[str, Any]) -> str:
        base = job["model"].split(":")[1] if job["model"].startswith("ft:") else job["model"]
        if base.startswith("/"):  # a model directory: name it by the directory, as a hub id names its repository
            base = Path(base).name
        return f"ft:{base}:{ORG_SLUG}:{job['suffix'] or ''}"

    def _succeed(self, job: dict[str, Any], result: TrainingResult) -> None:
        job_id = job["id"]
        if result.model_dir is None:
            raise TrainingFailed("server_error", "The trainer reported success but wrote no model.")
        model_id = f"{self.model_prefix(job)}:{ids.model_tag()}"
        result_file = self._write_result_file(job_id)
        if not self.store.update_job(
            job_id,
            expect=("running", "paused"),
            status="succeeded",
            fine_tuned_model=model_id,
            trained_tokens=result.trained_tokens,
            result_files=[result_file],
            finished_at=now(),
            error=None,
        ):
            log.info("job %s finished training after it was cancelled; its model is not registered", job_id)
            return
        self.store.add_model(model_id, self.store.organization_id(), job_id, result.model_dir)
        self.store.add_event(job_id, f"New fine-tuned model created: {model_id}")
        self.store.add_event(job_id, "The job has successfully completed")

    def _write_result_file(self, job_id: str) -> str:
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
        self.store.add_file(file_id, "step_metrics.csv", "fine-tune-results", len(content))
        return file_id

    def _fail(
        self,
        job_id: str,
        code: str,
        message: str,
        param: str | None = None,
        expect: tuple[str, ...] = ("running", "paused", "queued", "validating_files"),
    ) -> None:
        self.store.update_job(
            job_id,
            expect=expect,
            event=("error", message),
            status="failed",
            error={"code": code, "message": message, "param": param},
        )

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
