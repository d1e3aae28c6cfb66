"""The provider: ftrun's one door to a target, over the official openai SDK.

It is the only module that imports `openai`. It returns ftrun's own records (runner.remote), never SDK types, and
turns every SDK failure into a one-line `ProviderError` with a hint.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import httpx2
import openai

from runner import failpoints
from runner.diagnostics import ProviderError
from runner.failpoints import after, before, failpoint
from runner.remote import (
    LOCAL_BASE,
    ChatReply,
    ChatUnavailable,
    Checkpoint,
    JobEvent,
    JobRequest,
    Progress,
    RemoteFile,
    RemoteJob,
)
from runner.workspace import Target, Workspace, env_key

T = TypeVar("T")

FILES_API_LIMIT = 512 * 1000 * 1000  # OpenAI's limit for one file sent to /files; larger ones go in parts
UPLOAD_PART_SIZE = 64 * 1000 * 1000  # the most one part of an upload may hold
CREATE_ATTEMPTS = 3  # tries of a request that creates something: as many as the SDK gives a read (max_retries=2)
MAX_RETRY_DELAY = 8.0  # seconds; a server's Retry-After is followed up to RETRY_AFTER_LIMIT
RETRY_AFTER_LIMIT = 60.0

WIND_DOWN_HINT = (
    "OpenAI closed self-serve fine-tuning to new organisations (2026-05-07), to inactive ones (2026-07-02) and to "
    "everyone for new jobs on 2027-01-06; train on the built-in server instead (`--target local`, or `ftrun serve`)"
)


def _job(j: Any) -> RemoteJob:
    return RemoteJob.from_api(j.model_dump())


def _file(f: Any) -> RemoteFile:
    return RemoteFile.from_api(f.model_dump())


class OpenAIProvider:
    def __init__(
        self,
        client: openai.OpenAI,
        target: Target,
        *,
        single_upload_limit: int | None = None,
        part_size: int | None = None,
    ) -> None:
        self._client = client
        self._target = target
        self._single_upload_limit = FILES_API_LIMIT if single_upload_limit is None else single_upload_limit
        self._part_size = UPLOAD_PART_SIZE if part_size is None else part_size

    # -- error handling -------------------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        where = self._target.endpoint
        try:
            yield
        except openai.AuthenticationError as e:
            raise ProviderError(
                f"{where} rejected the API key while {doing}: {_message(e)}",
                hint=f"check the key in ${self._target.api_key_env}",
            ) from None
        except openai.PermissionDeniedError as e:
            hint = WIND_DOWN_HINT if "api.openai.com" in where else "check what the key is allowed to do there"
            raise ProviderError(f"{where} refused permission while {doing}: {_message(e)}", hint=hint) from None
        except openai.RateLimitError as e:
            if e.code == "daily_rate_limit_exceeded":
                raise ProviderError(
                    f"{where}: daily fine-tuning job limit reached while {doing}: {_message(e)}",
                    hint="the limit resets daily; apply again tomorrow (ftrun never creates a job twice)",
                ) from None
            raise ProviderError(
                f"{where} is rate-limiting requests ({doing}): {_message(e)}",
                hint="wait a minute and run the command again",
            ) from None
        except openai.NotFoundError as e:
            raise ProviderError(f"{where}: not found while {doing}: {_message(e)}") from None
        except openai.BadRequestError as e:
            param = f" (parameter {e.param})" if e.param else ""
            raise ProviderError(f"{where} rejected the request while {doing}{param}: {_message(e)}") from None
        except openai.APIStatusError as e:
            raise ProviderError(
                f"{where} failed while {doing} (HTTP {e.status_code}): {_message(e)}",
                hint="the server had a problem; run the command again (it is safe to repeat)",
            ) from None
        except openai.APITimeoutError:
            raise ProviderError(
                f"{where} timed out while {doing}", hint="run the command again (it is safe to repeat)"
            ) from None
        except openai.APIConnectionError as e:
            raise ProviderError(
                f"cannot reach {where} while {doing}: {e.__cause__ or e}",
                hint="check the network and the target's base_url in ftrun.yaml",
            ) from None

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        with self._errors(doing):
            return fn()
        raise AssertionError("unreachable")  # pragma: no cover

    def _create(self, doing: str, call: str, send: Callable[[], T], find: Callable[[], T | None] | None = None) -> T:
        """Send a request that creates something, never blindly twice: the API has no idempotency key.

        `send` must make one try (a client with max_retries=0). After a failure that may have reached the server (a
        5xx, a lost response, a reset connection), or any failure of a second try, `find` looks on the target for
        what the request would have made and that is returned; only when it is not there is the request sent
        again, at most CREATE_ATTEMPTS times in all. Without `find`, what a lost request made must be harmless
        (nothing refers to it) and the request is simply sent again. `call` names its failpoints."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            failpoint(before(call))
            try:
                made = send()
            except openai.APIError as e:
                retry = _may_retry(e) and attempt < CREATE_ATTEMPTS
                if find is not None and (_may_retry(e) or attempt > 1):
                    found = self._call(f"looking for what {doing} made", find)
                    if found is not None:
                        return found
                if not retry:
                    with self._errors(doing):
                        raise
                time.sleep(_retry_delay(e, attempt))
                continue
            failpoint(after(call))
            return made
        raise AssertionError("unreachable")  # pragma: no cover

    # -- jobs ------------------------------------------------------------------------------------------------------
    def list_jobs(self, metadata: Mapping[str, str]) -> list[RemoteJob]:
        """Jobs tagged with `metadata`. A host whose list cannot filter by metadata lists every job, less those
        tagged otherwise; jobs with no tags at all stay (where jobs keep no metadata, their suffix tells)."""
        profile = self._target.profile

        def run() -> list[RemoteJob]:
            if profile.list_filter:
                return [_job(j) for j in self._client.fine_tuning.jobs.list(limit=100, metadata=dict(metadata))]
            jobs = [_job(j) for j in self._client.fine_tuning.jobs.list(limit=100)]
            return [j for j in jobs if not j.metadata or all(j.metadata.get(k) == v for k, v in metadata.items())]

        return self._call("listing fine-tuning jobs", run)

    def get_job(self, job_id: str) -> RemoteJob | None:
        def run() -> RemoteJob | None:
            try:
                return _job(self._client.fine_tuning.jobs.retrieve(job_id))
            except openai.NotFoundError:
                return None

        return self._call(f"reading job {job_id}", run)

    def create_job(self, request: JobRequest) -> RemoteJob:
        profile = self._target.profile
        kwargs: dict[str, Any] = {
            "model": request.model,
            "training_file": request.training_file,
            "method": dict(request.method),
        }
        if profile.metadata:  # a host that keeps none finds the job by its suffix code instead
            kwargs["metadata"] = dict(request.metadata)
        if profile.extra_body:
            kwargs["extra_body"] = dict(profile.extra_body)
        if request.validation_file:
            kwargs["validation_file"] = request.validation_file
        if request.suffix:
            kwargs["suffix"] = request.suffix
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.integrations:
            kwargs["integrations"] = [dict(i) for i in request.integrations]
        # No automatic retry: the API has no idempotency key, so a retried create can make a second paid job. The
        # applier looks the job up by its tags instead.
        client = self._client.with_options(max_retries=0)

        def run() -> RemoteJob:
            failpoint(before(failpoints.JOB_CREATE))
            job = _job(client.fine_tuning.jobs.create(**kwargs))
            failpoint(after(failpoints.JOB_CREATE))
            return job

        return self._call("creating a fine-tuning job", run)

    def cancel_job(self, job_id: str) -> RemoteJob:
        def run() -> RemoteJob:  # retried by the SDK: cancelling twice cancels once
            failpoint(before(failpoints.JOB_CANCEL))
            job = _job(self._client.fine_tuning.jobs.cancel(job_id))
            failpoint(after(failpoints.JOB_CANCEL))
            return job

        return self._call(f"cancelling job {job_id}", run)

    def progress(self, job_id: str) -> Progress | None:
        def run() -> Progress | None:
            page = self._client.fine_tuning.jobs.list_events(job_id, limit=10)
            for event in page.data:  # newest first
                data = event.data if isinstance(event.data, dict) else {}
                if event.type == "metrics" and data:
                    return Progress(
                        step=data.get("step"),
                        total_steps=data.get("total_steps"),
                        train_loss=data.get("train_loss"),
                        valid_loss=data.get("valid_loss"),
                        message=event.message,
                    )
            return Progress(message=page.data[0].message) if page.data else None

        return self._call(f"reading events of job {job_id}", run)

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        def run() -> list[JobEvent]:
            newest_first = []
            for event in self._client.fine_tuning.jobs.list_events(job_id, limit=100):
                if event.id == after:
                    break
                newest_first.append(JobEvent.from_api(event.model_dump()))
            return newest_first[::-1]

        return self._call(f"reading events of job {job_id}", run)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        def run() -> list[Checkpoint]:
            found = [
                Checkpoint.from_api(c.model_dump()) for c in self._client.fine_tuning.jobs.checkpoints.list(job_id)
            ]
            return sorted(found, key=lambda c: c.step)

        return self._call(f"reading checkpoints of job {job_id}", run)

    def resume_job(self, job_id: str) -> RemoteJob:
        return self._call(f"resuming job {job_id}", lambda: _job(self._client.fine_tuning.jobs.resume(job_id)))

    # -- files -----------------------------------------------------------------------------------------------------
    def get_file(self, file_id: str) -> RemoteFile | None:
        def run() -> RemoteFile | None:
            try:
                return _file(self._client.files.retrieve(file_id))
            except openai.NotFoundError:
                return None

        return self._call(f"reading file {file_id}", run)

    def find_file(self, filename: str, size: int) -> RemoteFile | None:
        return self._call("listing files", lambda: self._find_file(filename, size))

    def file_sha256(self, file_id: str) -> str | None:
        def run() -> str | None:
            try:
                content = self._client.files.content(file_id)
            except (openai.NotFoundError, openai.BadRequestError, openai.PermissionDeniedError):
                return None  # gone, or a host that does not let fine-tune files be downloaded (OpenAI)
            digest = hashlib.sha256()
            for chunk in content.iter_bytes():
                digest.update(chunk)
            return digest.hexdigest()

        return self._call(f"reading the content of file {file_id}", run)

    def _find_file(self, filename: str, size: int) -> RemoteFile | None:
        for f in self._client.files.list(purpose="fine-tune"):
            if f.filename == filename and int(f.bytes or 0) == size:
                return _file(f)
        return None

    def upload_file(self, path: Path, filename: str, on_sent: Callable[[int], None] | None = None) -> RemoteFile:
        """Upload `path` as `filename` (content-addressed: the applier names files by their sha256).

        Never sent blindly twice: after a failure the upload may have been stored anyway, so the file is looked up
        by its name and size first, and reused when there (see `_create`)."""
        size = path.stat().st_size
        if size > self._single_upload_limit:
            return self._call(
                f"uploading {filename} in parts", lambda: self._upload_in_parts(path, filename, size, on_sent)
            )
        client = self._client.with_options(max_retries=0)

        def send() -> RemoteFile:
            with path.open("rb") as fh:
                body = cast(BinaryIO, _Reporting(fh, on_sent)) if on_sent else fh
                created = client.files.create(file=(filename, body, "application/jsonl"), purpose="fine-tune")
                return _file(created)

        return self._create(
            f"uploading {filename}", failpoints.FILE_UPLOAD, send, lambda: self._find_file(filename, size)
        )

    def _upload_in_parts(
        self, path: Path, filename: str, size: int, on_sent: Callable[[int], None] | None
    ) -> RemoteFile:
        """The Uploads API, for files over the Files API's limit: parts of at most 64 MB, then one complete.

        Only the complete makes a file, so only it needs looking for after a failure. A retried create leaves an
        upload that is never completed (it expires within the hour, holding no file); a retried part leaves a part
        that the complete does not list (the server discards it)."""
        client = self._client.with_options(max_retries=0)
        upload = self._create(
            f"starting the upload of {filename}",
            failpoints.UPLOAD_CREATE,
            lambda: client.uploads.create(
                bytes=size, filename=filename, mime_type="application/jsonl", purpose="fine-tune"
            ),
        )
        md5 = hashlib.md5(usedforsecurity=False)
        part_ids: list[str] = []
        sent = 0
        with path.open("rb") as f:
            while chunk := f.read(self._part_size):
                md5.update(chunk)
                part = self._create(
                    f"uploading part {len(part_ids) + 1} of {filename}",
                    failpoints.UPLOAD_PART,
                    functools.partial(client.uploads.parts.create, upload.id, data=chunk),
                )
                part_ids.append(part.id)
                sent += len(chunk)
                if on_sent:
                    on_sent(sent)

        def complete() -> RemoteFile:
            done = client.uploads.complete(upload.id, part_ids=part_ids, md5=md5.hexdigest())
            if done.file is None:
                raise ProviderError(f"the upload of {filename} completed without a file")
            return _file(done.file)

        return self._create(
            f"completing the upload of {filename}",
            failpoints.UPLOAD_COMPLETE,
            complete,
            lambda: self._find_file(filename, size),
        )

    # -- models ----------------------------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        return self._call("listing models", lambda: [m.id for m in self._client.models.list()])

    def delete_model(self, model: str) -> bool:
        def run() -> bool:  # retried by the SDK: a model deleted twice is deleted (then not found: False)
            failpoint(before(failpoints.MODEL_DELETE))
            try:
                deleted = bool(self._client.models.delete(model).deleted)
            except openai.NotFoundError:
                return False
            failpoint(after(failpoints.MODEL_DELETE))
            return deleted

        return self._call(f"deleting model {model}", run)

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], **params: Any) -> str:
        def run() -> str:
            r = self._client.chat.completions.create(model=model, messages=list(messages), **params)  # type: ignore[arg-type]
            return r.choices[0].message.content or ""

        return self._call(f"chatting with {model}", run)

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply:
        def run() -> ChatReply:
            try:
                r = self._client.chat.completions.create(model=model, messages=list(messages), **params)  # type: ignore[arg-type]
            except (openai.NotFoundError, openai.BadRequestError) as e:
                if e.code in ("model_not_supported", "model_not_found") or isinstance(e, openai.NotFoundError):
                    raise ChatUnavailable(f"{self._target.endpoint} cannot chat with {model}: {_message(e)}") from None
                raise
            usage = r.usage
            return ChatReply(
                text=r.choices[0].message.content or "",
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            )

        return self._call(f"chatting with {model}", run)


class _Reporting(io.RawIOBase):
    """A file that reports how much of it has been read (the SDK streams an upload in chunks)."""

    def __init__(self, f: BinaryIO, on_sent: Callable[[int], None]) -> None:
        self._f = f
        self._on_sent = on_sent
        self._sent = 0

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:  # lets the HTTP client learn the length, so the body is not sent chunked
        return self._f.fileno()

    def seekable(self) -> bool:
        return self._f.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        self._sent = self._f.seek(offset, whence)  # a retried upload starts again from the top
        return self._sent

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._sent += len(data)
        self._on_sent(self._sent)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _message(e: openai.APIError) -> str:
    body = e.body if isinstance(e.body, dict) else None
    if body and isinstance(body.get("message"), str):
        return str(body["message"])
    return e.message


def _may_retry(e: openai.APIError) -> bool:
    """Whether a failed request may succeed if sent again: the SDK's own rule (status, `x-should-retry`)."""
    if isinstance(e, openai.APIConnectionError):  # a timeout, a reset: the request may or may not have arrived
        return True
    if not isinstance(e, openai.APIStatusError):
        return False
    should = e.response.headers.get("x-should-retry")
    if should in ("true", "false"):
        return should == "true"
    return e.status_code in (408, 409, 429) or e.status_code >= 500


def _retry_delay(e: openai.APIError, attempt: int) -> float:
    """The server's Retry-After when it gives one (up to a minute), else backing off exponentially, with jitter."""
    if isinstance(e, openai.APIStatusError):
        try:
            after_header = float(e.response.headers.get("retry-after", ""))
        except ValueError:
            after_header = 0.0
        if 0 < after_header <= RETRY_AFTER_LIMIT:
            return after_header
    return min(0.5 * 2 ** (attempt - 1), MAX_RETRY_DELAY) * (1 - 0.25 * random.random())


def _no_retry_on_daily_limit(response: httpx2.Response) -> None:
    """The SDK retries every 429; a daily job limit will not lift within its retries, so say not to."""
    if response.status_code == 429:
        response.read()
        if b"daily_rate_limit_exceeded" in response.content:
            response.headers["x-should-retry"] = "false"


def http_client(transport: httpx2.BaseTransport | None = None) -> httpx2.Client:
    """The SDK's default HTTP client (timeouts, limits), with ftrun's retry rule."""
    hooks = {"response": [_no_retry_on_daily_limit]}
    return openai.DefaultHttpx2Client(transport=transport, event_hooks=hooks)  # type: ignore[arg-type]


def in_process(app: Any, target: Target) -> OpenAIProvider:
    """The SDK over a WSGI transport to the built-in server's app in this process (no socket)."""
    client = openai.OpenAI(
        base_url=f"{LOCAL_BASE}/v1",
        api_key="local",
        http_client=http_client(httpx2.WSGITransport(app=app)),
        max_retries=0,
    )
    return OpenAIProvider(client, target)


def connect(ws: Workspace, target: Target) -> OpenAIProvider:
    """A provider for `target`. The local target runs the built-in server in this process (no socket); see also
    runner.local_target, which reads it without loading the SDK."""
    if target.kind == "local":
        from runner.server import create_app

        return in_process(create_app(ws.server_dir(target)), target)
    key = env_key(target)
    if not key:
        raise ProviderError(
            f"no API key for target '{target.name}': the environment variable {target.api_key_env} is not set",
            hint=f"export {target.api_key_env}=... (ftrun never stores the key)",
        )
    client = openai.OpenAI(
        api_key=key,
        base_url=target.base_url,
        organization=target.organization,
        project=target.project,
        max_retries=2,
        http_client=http_client(),
    )
    return OpenAIProvider(client, target)
