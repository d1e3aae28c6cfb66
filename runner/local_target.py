"""The local target: the built-in server in this process, read without loading the openai SDK or Flask.

A plan, `status` and `show` only read the target, and importing the SDK (or the web framework) costs more CPU than
everything else a warm plan does. So for the in-process server, reads (list and retrieve jobs and files, events,
checkpoints, models) call `runner.server.reads`, the functions whose answers the server's routes return to every
client, on the same context. Everything that changes the target goes through the SDK (runner.provider) against the
app, which is built and loaded on the first such call. Remote targets always use the SDK for everything.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from runner.diagnostics import ProviderError
from runner.remote import (
    ChatReply,
    Checkpoint,
    JobEvent,
    JobRequest,
    Progress,
    Provider,
    RemoteFile,
    RemoteJob,
)
from runner.server import reads
from runner.server.context import ServerContext, open_context
from runner.server.errors import ApiError
from runner.workspace import Target, Workspace

_CHUNK_BYTES = 1 << 20
T = TypeVar("T")


class LocalProvider:
    """A Provider for the in-process server: reads through `runner.server.reads`, writes through the SDK."""

    def __init__(self, context: ServerContext, target: Target) -> None:
        self._context = context
        self._target = target

    @cached_property
    def _sdk(self) -> Provider:
        from runner.provider import in_process
        from runner.server.app import app_for

        return in_process(app_for(self._context), self._target)

    def _read(self, what: str, read: Callable[[], T]) -> T | None:
        """What `read` answers, or None where the server would answer 404."""
        try:
            return read()
        except ApiError as e:
            if e.status == 404:
                return None
            raise ProviderError(f"the built-in server failed reading {what} (HTTP {e.status}): {e.message}") from e
        except sqlite3.Error as e:  # where a client would be answered 500
            raise ProviderError(f"the built-in server failed reading {what}: {e}") from e

    def _pages(self, what: str, read: Callable[[str | None], dict[str, Any]]) -> list[dict[str, Any]]:
        """Every item of a paginated list: `read(after)` answers the page after the item `after`."""
        items: list[dict[str, Any]] = []
        while True:
            page = self._read(what, lambda: read(items[-1]["id"] if items else None)) or {}
            items.extend(page.get("data") or [])
            if not page.get("has_more") or not items:
                return items

    # -- reads -----------------------------------------------------------------------------------------------------
    def list_jobs(self, metadata: Mapping[str, str]) -> list[RemoteJob]:
        c, wanted = self._context, dict(metadata) or None
        found = self._pages("jobs", lambda after: reads.jobs_page(c, limit=100, after=after, metadata=wanted))
        return [RemoteJob.from_api(j) for j in found]

    def get_job(self, job_id: str) -> RemoteJob | None:
        job = self._read(f"job {job_id}", lambda: reads.job(self._context, job_id))
        return RemoteJob.from_api(job) if job is not None else None

    def get_file(self, file_id: str) -> RemoteFile | None:
        f = self._read(f"file {file_id}", lambda: reads.file(self._context, file_id))
        return RemoteFile.from_api(f) if f is not None else None

    def find_file(self, filename: str, size: int) -> RemoteFile | None:
        c = self._context
        for f in self._pages(
            "files", lambda after: reads.files_page(c, purpose="fine-tune", order="desc", after=after, limit=10_000)
        ):
            if f.get("filename") == filename and int(f.get("bytes") or 0) == size:
                return RemoteFile.from_api(f)
        return None

    def file_sha256(self, file_id: str) -> str | None:
        found = self._read(f"file {file_id}", lambda: reads.file_content(self._context, file_id))
        if found is None:
            return None
        path, _ = found
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as e:  # recorded, but its bytes are gone from the data directory
            raise ProviderError(f"the built-in server failed reading file {file_id}: {e.strerror}") from e
        return digest.hexdigest()

    def list_models(self) -> list[str]:
        return [m["id"] for m in (self._read("models", lambda: reads.models(self._context)) or {}).get("data") or []]

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        c = self._context
        newest_first = []
        for e in self._pages(f"job {job_id}'s events", lambda a: reads.events_page(c, job_id, after=a, limit=1000)):
            if e["id"] == after:
                break
            newest_first.append(JobEvent.from_api(e))
        return newest_first[::-1]

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        c = self._context
        found = self._pages(
            f"job {job_id}'s checkpoints", lambda a: reads.checkpoints_page(c, job_id, after=a, limit=100)
        )
        return sorted((Checkpoint.from_api(x) for x in found), key=lambda x: x.step)

    # -- everything else goes through the SDK ----------------------------------------------------------------------
    def resume_job(self, job_id: str) -> RemoteJob:
        return self._sdk.resume_job(job_id)

    def progress(self, job_id: str) -> Progress | None:
        return self._sdk.progress(job_id)

    def create_job(self, request: JobRequest) -> RemoteJob:
        return self._sdk.create_job(request)

    def cancel_job(self, job_id: str) -> RemoteJob:
        return self._sdk.cancel_job(job_id)

    def upload_file(self, path: Path, filename: str, on_sent: Callable[[int], None] | None = None) -> RemoteFile:
        return self._sdk.upload_file(path, filename, on_sent)

    def delete_model(self, model: str) -> bool:
        return self._sdk.delete_model(model)

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], **params: Any) -> str:
        return self._sdk.chat(model, messages, **params)

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply:
        return self._sdk.chat_reply(model, messages, **params)


def connect(ws: Workspace, target: Target) -> LocalProvider:
    return LocalProvider(open_context(ws.server_dir(target)), target)
