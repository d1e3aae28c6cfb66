"""The local target: the built-in server in this process, read without loading the openai SDK.

A plan, `status` and `show` only read the target, and importing the SDK costs more CPU than everything else a warm
plan does. So for the in-process server, reads (list and retrieve jobs and files, job progress) are plain GETs to
the same WSGI app (through Werkzeug's client, which the server loads anyway), answered by the same routes and
objects that every client sees. Everything that changes the target goes through the SDK (runner.provider), which is
loaded on the first such call. Remote targets always use the SDK for everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from runner.diagnostics import ProviderError
from runner.remote import (
    LOCAL_BASE,
    ChatReply,
    Checkpoint,
    JobEvent,
    JobRequest,
    Progress,
    Provider,
    RemoteFile,
    RemoteJob,
)
from runner.workspace import Target, Workspace


class LocalProvider:
    """A Provider for the in-process server: reads over plain HTTP, writes through the SDK."""

    def __init__(self, app: Any, target: Target) -> None:  # the server's WSGI app (runner.server.create_app)
        self._app = app
        self._target = target
        self._http = app.test_client()

    @cached_property
    def _sdk(self) -> Provider:
        from runner.provider import in_process

        return in_process(self._app, self._target)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON body of a GET, or None when the server says 404."""
        response = self._http.get(f"/v1{path}", query_string=dict(params or {}), base_url=LOCAL_BASE)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            try:
                message = json.loads(response.data)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.get_data(as_text=True)[:200]
            raise ProviderError(f"the built-in server failed reading {path} (HTTP {response.status_code}): {message}")
        body: dict[str, Any] = json.loads(response.data)
        return body

    def _pages(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = dict(params)
        while True:
            page = self._get(path, query) or {}
            items.extend(page.get("data") or [])
            if not page.get("has_more") or not items:
                return items
            query["after"] = items[-1]["id"]

    # -- reads -----------------------------------------------------------------------------------------------------
    def list_jobs(self, metadata: Mapping[str, str]) -> list[RemoteJob]:
        params = {"limit": 100, **{f"metadata[{k}]": v for k, v in metadata.items()}}
        return [RemoteJob.from_api(j) for j in self._pages("/fine_tuning/jobs", params)]

    def get_job(self, job_id: str) -> RemoteJob | None:
        job = self._get(f"/fine_tuning/jobs/{job_id}")
        return RemoteJob.from_api(job) if job is not None else None

    def get_file(self, file_id: str) -> RemoteFile | None:
        f = self._get(f"/files/{file_id}")
        return RemoteFile.from_api(f) if f is not None else None

    def find_file(self, filename: str, size: int) -> RemoteFile | None:
        for f in self._pages("/files", {"purpose": "fine-tune", "limit": 10000}):
            if f.get("filename") == filename and int(f.get("bytes") or 0) == size:
                return RemoteFile.from_api(f)
        return None

    def file_sha256(self, file_id: str) -> str | None:
        digest = hashlib.sha256()
        response = self._http.get(f"/v1/files/{file_id}/content", base_url=LOCAL_BASE, buffered=False)
        try:
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise ProviderError(f"the built-in server failed reading file {file_id} (HTTP {response.status_code})")
            for chunk in response.iter_encoded():
                digest.update(chunk)
        finally:
            response.close()
        return digest.hexdigest()

    def list_models(self) -> list[str]:
        return [m["id"] for m in (self._get("/models") or {}).get("data") or []]

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        newest_first = []
        for e in self._pages(f"/fine_tuning/jobs/{job_id}/events", {"limit": 1000}):
            if e["id"] == after:
                break
            newest_first.append(JobEvent.from_api(e))
        return newest_first[::-1]

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        found = [Checkpoint.from_api(c) for c in self._pages(f"/fine_tuning/jobs/{job_id}/checkpoints", {"limit": 100})]
        return sorted(found, key=lambda c: c.step)

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
    from runner.server import create_app

    return LocalProvider(create_app(ws.server_dir(target)), target)
