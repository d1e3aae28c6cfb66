"""What ftrun knows of a target: its own records of remote jobs and files, and the Provider port.

The provider (runner.provider) implements `Provider` over the openai SDK; tests may use an in-memory fake. Nothing
here imports the SDK, and no SDK type ever leaves the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Tags set on every job ftrun creates (job metadata), so a job can be found again without state.
TAG_WORKSPACE = "ftrun_workspace"
TAG_EXPERIMENT = "ftrun_experiment"
TAG_TRAINING_HASH = "ftrun_training_hash"
TAG_LINEAGE = "ftrun_lineage"
LOCAL_BASE = "http://local.invalid"  # the built-in server in this process, reached over WSGI (no socket)


@dataclass(frozen=True)
class RemoteJob:
    id: str
    status: str
    model: str
    created_at: int
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    finished_at: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    training_file: str | None = None
    validation_file: str | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)  # as the target resolved them ("auto" filled in)
    method_type: str | None = None  # supervised | dpo | reinforcement, when the target says
    seed: int | None = None
    suffix: str | None = None  # as the job was created with it (OpenAI echoes it as `user_provided_suffix`)

    @property
    def error(self) -> dict[str, Any] | None:
        return {"code": self.error_code, "message": self.error_message} if self.error_code else None

    @staticmethod
    def from_api(j: Mapping[str, Any]) -> RemoteJob:
        """A fine_tuning.job object as the API returns it (JSON)."""
        err = j.get("error") or {}
        code = err.get("code") or None
        method = j.get("method") or {}
        resolved = (method.get(str(method.get("type"))) or {}).get("hyperparameters") or j.get("hyperparameters")
        return RemoteJob(
            id=j["id"],
            status=j["status"],
            model=j["model"],
            created_at=int(j.get("created_at") or 0),
            fine_tuned_model=j.get("fine_tuned_model"),
            trained_tokens=j.get("trained_tokens"),
            error_code=code,
            error_message=(err.get("message") or None) if code else None,
            finished_at=j.get("finished_at"),
            metadata=dict(j.get("metadata") or {}),
            training_file=j.get("training_file"),
            validation_file=j.get("validation_file"),
            hyperparameters=dict(resolved or {}),
            method_type=method.get("type"),
            seed=j.get("seed"),
            suffix=_text(j.get("user_provided_suffix") or j.get("suffix")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class RemoteFile:
    id: str
    filename: str
    bytes: int
    created_at: int

    @staticmethod
    def from_api(f: Mapping[str, Any]) -> RemoteFile:
        """A file object as the API returns it (JSON)."""
        return RemoteFile(
            id=f["id"], filename=f["filename"], bytes=int(f.get("bytes") or 0), created_at=int(f.get("created_at") or 0)
        )


@dataclass(frozen=True)
class JobEvent:
    """One event of a job (`fine_tuning.job.event`); metrics events carry step and losses in `data`."""

    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_api(e: Mapping[str, Any]) -> JobEvent:
        data = e.get("data")
        return JobEvent(
            id=e["id"],
            created_at=int(e.get("created_at") or 0),
            level=str(e.get("level") or "info"),
            message=str(e.get("message") or ""),
            type=str(e.get("type") or "message"),
            data=dict(data) if isinstance(data, Mapping) else {},
        )


@dataclass(frozen=True)
class Checkpoint:
    """A saved step of a job (`fine_tuning.job.checkpoint`), usable as a model."""

    id: str
    created_at: int
    model: str
    step: int
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_api(c: Mapping[str, Any]) -> Checkpoint:
        return Checkpoint(
            id=c["id"],
            created_at=int(c.get("created_at") or 0),
            model=c["fine_tuned_model_checkpoint"],
            step=int(c.get("step_number") or 0),
            metrics=dict(c.get("metrics") or {}),
        )


@dataclass(frozen=True)
class Progress:
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The remote side as the planner sees it: ftrun's jobs on the target (for a host that keeps no metadata, every
    job listed), and job ids known to be gone."""

    jobs: Mapping[str, RemoteJob] = field(default_factory=dict)
    gone: frozenset[str] = frozenset()


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    validation_file: str | None
    method: Mapping[str, Any]
    suffix: str | None
    seed: int | None
    metadata: Mapping[str, str]
    integrations: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class ChatReply:
    """One chat completion: the answer and the tokens it used."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatUnavailable(Exception):
    """The target cannot chat with this model (a base model it only fine-tunes, or one it does not serve)."""


class Provider(Protocol):
    def list_jobs(self, metadata: Mapping[str, str]) -> list[RemoteJob]: ...

    def get_job(self, job_id: str) -> RemoteJob | None: ...

    def create_job(self, request: JobRequest) -> RemoteJob: ...

    def cancel_job(self, job_id: str) -> RemoteJob: ...

    def get_file(self, file_id: str) -> RemoteFile | None: ...

    def find_file(self, filename: str, size: int) -> RemoteFile | None: ...

    def file_sha256(self, file_id: str) -> str | None:
        """The sha256 of a file's content; None when it is gone or the target does not let it be read."""

    def list_models(self) -> list[str]:
        """The ids of every model the target offers (base models, fine-tuned models, checkpoints)."""

    def upload_file(self, path: Path, filename: str, on_sent: Callable[[int], None] | None = None) -> RemoteFile:
        """Upload `path` as `filename`; `on_sent` is told the bytes sent so far, as they go."""

    def progress(self, job_id: str) -> Progress | None: ...

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """The job's events oldest first (only those after the event id `after`, when given)."""

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """The job's checkpoints, by step."""

    def resume_job(self, job_id: str) -> RemoteJob: ...

    def delete_model(self, model: str) -> bool:
        """True when deleted, False when the target has no such model."""

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], **params: Any) -> str: ...

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply:
        """One answer with its token usage; raises ChatUnavailable when the target cannot chat with `model`."""
