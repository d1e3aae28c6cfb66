"""The one vocabulary of fine-tuning job statuses, shared by the client (state, plan, apply, views) and the server.

The values are OpenAI's (a job's `status` field), plus `gone`, which only ftrun's state uses: the target no longer
has the job. Every question asked of a status is answered here, never by a set of string literals elsewhere.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    GONE = "gone"  # state only: the target has no job by this id any more

    @classmethod
    def of(cls, value: str) -> JobStatus:
        """A status as a host reports it; an unknown word is read as running (still to be watched), never as done."""
        try:
            return cls(value)
        except ValueError:
            return cls.RUNNING

    @property
    def is_terminal(self) -> bool:
        """The job will never change again (OpenAI's three final statuses)."""
        return self in _TERMINAL

    @property
    def needs_polling(self) -> bool:
        """The job is moving on its own: watch it until it stops (a paused job waits for a resume)."""
        return self in _MOVING

    @property
    def is_active(self) -> bool:
        """The job exists and may still train: it holds a slot, and removing its spec cancels it."""
        return self in _MOVING or self is JobStatus.PAUSED

    @property
    def is_settled(self) -> bool:
        """Nothing will happen without someone acting: finished, paused, or gone."""
        return not self.needs_polling


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
_MOVING = frozenset({JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING})
