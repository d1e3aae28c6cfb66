"""What apply and destroy did, as typed events: the applier emits them, every view renders them.

The applier never builds a sentence. It emits one event for each thing that actually happened (a file uploaded or
found, a job created or adopted, a job cancelled, an experiment forgotten, ...); the text view words them, `--json`
prints them as JSON lines, and the "Apply complete!" line counts them, so it says what happened, not what was planned.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from runner.job_status import JobStatus


class Adoption(enum.StrEnum):
    """Why an existing job became an experiment's current run instead of a new one being created."""

    ORPHAN = "orphan"  # the plan found a job with this version's tags that state did not know
    FOUND_BEFORE_CREATE = "found-before-create"  # one appeared between the plan and the create
    FOUND_AFTER_ERROR = "found-after-error"  # the create failed ambiguously, but the job had been created
    CURRENT_AGAIN = "current-again"  # an earlier run already trained this version


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RunsRefreshed(Event):
    """Statuses the target reported since state was written, now recorded."""

    kind: ClassVar[str] = "runs_refreshed"
    count: int


@dataclass(frozen=True)
class FileMissing(Event):
    """A file state recorded is no longer on the target (it will be found again or uploaded)."""

    kind: ClassVar[str] = "file_missing"
    display: str
    file_id: str


@dataclass(frozen=True)
class FileReused(Event):
    """A file with this content was already on the target (found by its content-addressed name)."""

    kind: ClassVar[str] = "file_reused"
    display: str
    file_id: str


@dataclass(frozen=True)
class FileUploading(Event):
    kind: ClassVar[str] = "file_uploading"
    display: str
    bytes: int


@dataclass(frozen=True)
class FileUploaded(Event):
    kind: ClassVar[str] = "file_uploaded"
    display: str
    file_id: str
    bytes: int


@dataclass(frozen=True)
class WaitingForSlot(Event):
    kind: ClassVar[str] = "waiting_for_slot"
    active: int
    limit: int


@dataclass(frozen=True)
class JobCreated(Event):
    kind: ClassVar[str] = "job_created"
    experiment: str
    job_id: str
    retrain: bool = False


@dataclass(frozen=True)
class JobAdopted(Event):
    kind: ClassVar[str] = "job_adopted"
    experiment: str
    job_id: str
    status: str
    why: Adoption


@dataclass(frozen=True)
class JobCancelled(Event):
    """A cancel was sent; `status` is what the job is now (it may have finished in the meantime)."""

    kind: ClassVar[str] = "job_cancelled"
    experiment: str
    job_id: str
    status: str


@dataclass(frozen=True)
class JobResumed(Event):
    kind: ClassVar[str] = "job_resumed"
    experiment: str
    job_id: str
    status: str


@dataclass(frozen=True)
class JobGone(Event):
    kind: ClassVar[str] = "job_gone"
    experiment: str
    job_id: str


@dataclass(frozen=True)
class ModelDeleted(Event):
    kind: ClassVar[str] = "model_deleted"
    experiment: str
    model: str
    existed: bool = True  # False: the target had no such model any more


@dataclass(frozen=True)
class StateUpdated(Event):
    kind: ClassVar[str] = "state_updated"
    experiment: str
    reason: str


@dataclass(frozen=True)
class WaitingForBase(Event):
    """A chain's experiment waits for the job of the experiment it trains on to finish."""

    kind: ClassVar[str] = "waiting_for_base"
    experiment: str
    base: str
    job_id: str


@dataclass(frozen=True)
class ExperimentMoved(Event):
    """An experiment took its new name in state (moved_from), with its runs and models."""

    kind: ClassVar[str] = "experiment_moved"
    old: str
    new: str


@dataclass(frozen=True)
class ExperimentForgotten(Event):
    kind: ClassVar[str] = "experiment_forgotten"
    experiment: str
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SuiteEvaluated(Event):
    """A suite ran against one model (`role`: the candidate, the alias holder or the base model)."""

    kind: ClassVar[str] = "suite_evaluated"
    experiment: str
    suite: str
    role: str
    model: str
    job_id: str | None
    available: bool
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    pass_rate: float | None = None
    reason: str | None = None  # why the target could not chat with the model


@dataclass(frozen=True)
class EvaluationDeferred(Event):
    """An evaluate or promote step that waits for its job to succeed (`apply --wait`, or `ftrun eval` later)."""

    kind: ClassVar[str] = "evaluation_deferred"
    experiment: str
    what: str  # the suite, or experiment@alias
    reason: str


@dataclass(frozen=True)
class AliasMoved(Event):
    kind: ClassVar[str] = "alias_moved"
    experiment: str
    alias: str
    job_id: str
    previous: str | None
    figures: str


@dataclass(frozen=True)
class PromotionBlocked(Event):
    """The gate failed: the alias stays where it is."""

    kind: ClassVar[str] = "promotion_blocked"
    experiment: str
    alias: str
    holder: str | None
    figures: str


def tally(events: Iterable[Event]) -> dict[str, int]:
    """How many of each thing happened: jobs created (new and retrained apart), adopted, cancelled, ..."""
    counts: Counter[str] = Counter()
    for e in events:
        match e:
            case JobCreated(retrain=True):
                counts["retrained"] += 1
            case JobCreated():
                counts["created"] += 1
            case JobCancelled(status=JobStatus.CANCELLED):
                counts["cancelled"] += 1
            case ModelDeleted(existed=True):
                counts["deleted"] += 1
            case JobAdopted():
                counts["adopted"] += 1
            case StateUpdated():
                counts["updated"] += 1
            case ExperimentForgotten():
                counts["forgotten"] += 1
            case ExperimentMoved():
                counts["moved"] += 1
            case FileUploaded():
                counts["uploaded"] += 1
            case FileReused():
                counts["reused"] += 1
            case SuiteEvaluated(available=True):
                counts["evaluated"] += 1
            case AliasMoved():
                counts["promoted"] += 1
            case PromotionBlocked():
                counts["blocked"] += 1
    return {k: counts[k] for k in TALLY_ORDER}


TALLY_ORDER = (
    "moved",
    "created",
    "retrained",
    "adopted",
    "updated",
    "cancelled",
    "forgotten",
    "uploaded",
    "reused",
    "deleted",
    "evaluated",
    "promoted",
    "blocked",
)
