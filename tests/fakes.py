"""An in-memory target at the Provider port, for fast tests of the planner and applier."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.diagnostics import ProviderError
from runner.remote import ChatReply, ChatUnavailable, Checkpoint, JobEvent, JobRequest, Progress, RemoteFile, RemoteJob


class FakeProvider:
    def __init__(self) -> None:
        self.jobs: dict[str, RemoteJob] = {}
        self.files: dict[str, RemoteFile] = {}
        self.uploads = 0
        self.creates = 0
        self.deleted_models: list[str] = []
        self._ids = itertools.count(1)
        self._clock = itertools.count(1_700_000_000)
        self.fail_create_after_accept = False
        self.job_events: dict[str, list[JobEvent]] = {}
        self.job_checkpoints: dict[str, list[Checkpoint]] = {}
        self.contents: dict[str, bytes] = {}
        self.models = ["local/tiny"]
        # How a model answers a chat (by model id): a fine-tuned model without one says hi; a base model cannot chat.
        self.replies: dict[str, Callable[[Sequence[Mapping[str, Any]]], str]] = {}
        self.chat_calls = 0
        self._chat_lock = threading.Lock()

    def list_jobs(self, metadata: Mapping[str, str]) -> list[RemoteJob]:
        return [j for j in self.jobs.values() if all(j.metadata.get(k) == v for k, v in metadata.items())]

    def get_job(self, job_id: str) -> RemoteJob | None:
        return self.jobs.get(job_id)

    def create_job(self, request: JobRequest) -> RemoteJob:
        self.creates += 1
        job = RemoteJob(
            id=f"ftjob-{next(self._ids):024d}",
            status="validating_files",
            model=request.model,
            created_at=next(self._clock),
            metadata=dict(request.metadata),
            training_file=request.training_file,
            validation_file=request.validation_file,
        )
        self.jobs[job.id] = job
        if self.fail_create_after_accept:
            raise ProviderError("connection reset after the server accepted the job")
        return job

    def cancel_job(self, job_id: str) -> RemoteJob:
        if job_id not in self.jobs:
            raise ProviderError(f"no job {job_id}")
        job = self.jobs[job_id]
        if job.status in ("succeeded", "failed", "cancelled"):
            raise ProviderError(f"job {job_id} is already {job.status}")
        self.jobs[job_id] = job = replace(job, status="cancelled")
        return job

    def get_file(self, file_id: str) -> RemoteFile | None:
        return self.files.get(file_id)

    def find_file(self, filename: str, size: int) -> RemoteFile | None:
        return next((f for f in self.files.values() if f.filename == filename and f.bytes == size), None)

    def upload_file(self, path: Path, filename: str, on_sent: Callable[[int], None] | None = None) -> RemoteFile:
        self.uploads += 1
        if on_sent:
            on_sent(path.stat().st_size)
        f = RemoteFile(
            id=f"file-{next(self._ids):022d}",
            filename=filename,
            bytes=path.stat().st_size,
            created_at=next(self._clock),
        )
        self.files[f.id] = f
        self.contents[f.id] = path.read_bytes()
        return f

    def file_sha256(self, file_id: str) -> str | None:
        content = self.contents.get(file_id)
        return hashlib.sha256(content).hexdigest() if content is not None else None

    def list_models(self) -> list[str]:
        return [*self.models, *(j.fine_tuned_model for j in self.jobs.values() if j.fine_tuned_model)]

    def progress(self, job_id: str) -> Progress | None:
        return None

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        events = self.job_events.get(job_id, [])
        ids = [e.id for e in events]
        return events[ids.index(after) + 1 :] if after in ids else list(events)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        return list(self.job_checkpoints.get(job_id, []))

    def resume_job(self, job_id: str) -> RemoteJob:
        job = self.jobs[job_id]
        if job.status != "paused":
            raise ProviderError(f"job {job_id} is {job.status}, not paused")
        self.jobs[job_id] = job = replace(job, status="running")
        return job

    def delete_model(self, model: str) -> bool:
        if model in self.deleted_models:
            return False
        self.deleted_models.append(model)
        return True

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], **params: Any) -> str:
        return f"{model} says hi"

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply:
        with self._chat_lock:
            self.chat_calls += 1
        if model in self.replies:
            text = self.replies[model](messages)
        elif model.startswith("ft:"):
            text = f"{model} says hi"
        else:
            raise ChatUnavailable(f"the fake target cannot chat with {model}")
        return ChatReply(text, prompt_tokens=len(messages), completion_tokens=len(text.split()))

    # -- test controls ---------------------------------------------------------------------------------------------
    def finish(self, job_id: str, status: str = "succeeded", **fields: Any) -> None:
        job = self.jobs[job_id]
        if status == "succeeded":
            fields.setdefault("fine_tuned_model", f"ft:{job.model}:personal:x:{job_id[-8:]}")
            fields.setdefault("trained_tokens", 1000)
        self.jobs[job_id] = replace(job, status=status, finished_at=next(self._clock), **fields)
