"""Which existing job belongs to a version of an experiment: the one rule behind every adoption.

The planner asks it of the snapshot (a job with this version's tags that state does not know, e.g. after a crash),
and the applier asks it twice: just before creating a job (one may have appeared since the plan), and after a create
that failed ambiguously (the request may have reached the target before the connection broke).
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from runner.job_status import JobStatus
from runner.remote import TAG_EXPERIMENT, TAG_TRAINING_HASH, RemoteJob


def adoptable_job(
    jobs: Iterable[RemoteJob],
    *,
    experiment: str,
    training_hash: str,
    known: Set[str] = frozenset(),
    allow_failed: bool = True,
) -> RemoteJob | None:
    """The newest job tagged with this experiment and training hash that is not in `known` and not cancelled.

    A failed job is the version's outcome (shown, not retried) unless `allow_failed` is False: a retrain was asked for.
    """
    candidates = [
        j
        for j in jobs
        if j.metadata.get(TAG_EXPERIMENT) == experiment
        and j.metadata.get(TAG_TRAINING_HASH) == training_hash
        and j.id not in known
        and JobStatus.of(j.status) is not JobStatus.CANCELLED
        and (allow_failed or JobStatus.of(j.status) is not JobStatus.FAILED)
    ]
    return max(candidates, key=lambda j: (j.created_at, j.id), default=None)
