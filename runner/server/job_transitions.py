"""Every change of a fine-tuning job's status, in one table: where it may come from, where it goes, what it logs.

The store applies a transition atomically (`Store.transition`): the status guard, the new fields and the events it
writes happen in one transaction, or not at all. Nothing else in the server writes a job's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from runner.job_status import JobStatus

EventLevel = Literal["info", "warn", "error"]

_S = JobStatus
_NOT_DONE = {_S.VALIDATING_FILES, _S.QUEUED, _S.RUNNING, _S.PAUSED}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[JobStatus]
    target: JobStatus
    messages: tuple[str, ...]  # event texts, `str.format` templates over the transition's arguments
    level: EventLevel = "info"
    verb: str = ""  # what a client asked for, for the refusal's wording ("cancel", "pause", "resume")


def _rule(
    sources: set[JobStatus], target: JobStatus, *messages: str, level: EventLevel = "info", verb: str = ""
) -> Rule:
    return Rule(frozenset(sources), target, messages, level, verb)


class Transition(Enum):
    """A named status change. `.rule` says what it allows and writes."""

    VALIDATED = _rule({_S.VALIDATING_FILES}, _S.QUEUED, "Files validated, moving job to queued state")
    STARTED = _rule({_S.QUEUED}, _S.RUNNING, "Fine-tuning job started")
    SUCCEEDED = _rule(
        # A pause that arrived after the last step loses to the finished model.
        {_S.RUNNING, _S.PAUSED},
        _S.SUCCEEDED,
        "New fine-tuned model created: {model}",
        "The job has successfully completed",
    )
    FAILED = _rule(_NOT_DONE, _S.FAILED, "{message}", level="error")
    INTERRUPTED = _rule(
        {_S.RUNNING},
        _S.QUEUED,
        "Training was interrupted (the worker stopped); resuming from {where}",
        level="warn",
    )
    WORKER_STOPPED = _rule(
        {_S.RUNNING}, _S.QUEUED, "Training stopped (the worker was told to stop); it resumes from {where}", level="warn"
    )
    CANCELLED = _rule(_NOT_DONE, _S.CANCELLED, "Fine-tuning job cancelled", verb="cancel")
    # The trainer stopping on its own: only from running, so a run that saw a pause and then a quick resume (the job
    # queued again) or a cancel never undoes what the client asked for.
    TRAINER_CANCELLED = _rule({_S.RUNNING}, _S.CANCELLED, "Fine-tuning job cancelled")
    TRAINER_PAUSED = _rule({_S.RUNNING}, _S.PAUSED, "Fine-tuning job paused")
    PAUSED = _rule({_S.QUEUED, _S.RUNNING}, _S.PAUSED, "Fine-tuning job paused", verb="pause")
    RESUMED = _rule({_S.PAUSED}, _S.QUEUED, "Fine-tuning job resumed", verb="resume")

    @property
    def rule(self) -> Rule:
        value = self.value
        assert isinstance(value, Rule)
        return value

    def allows(self, status: str) -> bool:
        return status in self.rule.sources  # a StrEnum member equals (and hashes as) its value

    def events(self, **arguments: object) -> list[tuple[EventLevel, str]]:
        return [(self.rule.level, m.format(**arguments)) for m in self.rule.messages]


def refusal(transition: Transition, job_id: str, status: str) -> str:
    """Why a client's request to make `transition` on a job in `status` was refused."""
    current = JobStatus.of(status)
    if current.is_terminal:
        done = "completed" if current is JobStatus.SUCCEEDED else current.value
        detail = f"the job has already {done}"
    else:
        detail = f"the job is {current.value}"
    return f"Cannot {transition.rule.verb or transition.name.lower()} job {job_id}: {detail}."
