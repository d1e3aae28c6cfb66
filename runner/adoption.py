"""Which existing job belongs to a version of an experiment: the one rule behind every adoption.

The planner asks it of the snapshot (a job with this version's tags that state does not know, e.g. after a crash),
and the applier asks it twice: just before creating a job (one may have appeared since the plan), and after a create
that failed ambiguously (the request may have reached the target before the connection broke).

A job belongs to a version when its tags (job metadata) name the version's experiment and training hash or, on a host
that keeps no metadata (its profile says so), when its suffix ends with the version's code: a short digest of the
workspace, the experiment and the training hash (`Profile.job_suffix` puts it there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Set

from runner.job_status import JobStatus
from runner.remote import TAG_EXPERIMENT, TAG_TRAINING_HASH, TAG_WORKSPACE, RemoteJob

CODE_LENGTH = 10  # hex digits: 40 bits, so two versions of one workspace never share a code in practice


def version_code(workspace: str, experiment: str, training_hash: str) -> str:
    """The short code that names a version of an experiment in a job's suffix, where jobs keep no metadata."""
    key = "\x00".join((workspace, experiment, training_hash)).encode()
    return hashlib.sha256(key).hexdigest()[:CODE_LENGTH]


def belongs(job: RemoteJob, *, workspace: str, experiment: str, training_hash: str) -> bool:
    """Whether `job` was created for this version: by its tags, or (a job with no tags) by its suffix code."""
    tags = job.metadata
    if tags.get(TAG_EXPERIMENT) is not None:
        return (
            tags.get(TAG_EXPERIMENT) == experiment
            and tags.get(TAG_TRAINING_HASH) == training_hash
            and tags.get(TAG_WORKSPACE, workspace) == workspace
        )
    code = version_code(workspace, experiment, training_hash)
    return job.suffix is not None and (job.suffix == code or job.suffix.endswith("-" + code))


def adoptable_job(
    jobs: Iterable[RemoteJob],
    *,
    workspace: str,
    experiment: str,
    training_hash: str,
    known: Set[str] = frozenset(),
    allow_failed: bool = True,
) -> RemoteJob | None:
    """The newest job of this version (see `belongs`) that is not in `known` and not cancelled.

    A failed job is the version's outcome (shown, not retried) unless `allow_failed` is False: a retrain was asked for.
    """
    candidates = [
        j
        for j in jobs
        if belongs(j, workspace=workspace, experiment=experiment, training_hash=training_hash)
        and j.id not in known
        and JobStatus.of(j.status) is not JobStatus.CANCELLED
        and (allow_failed or JobStatus.of(j.status) is not JobStatus.FAILED)
    ]
    return max(candidates, key=lambda j: (j.created_at, j.id), default=None)
