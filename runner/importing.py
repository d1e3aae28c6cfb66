"""`ftrun import NAME JOB_ID`: adopt a job created outside ftrun as an experiment's current run.

The run records the job's training inputs as the target reports them, in the experiment's own terms, so the next
plan shows no change when the job trained what the spec asks for, and a retrain naming each difference when not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from runner.desired import Desired
from runner.diagnostics import FtrunError
from runner.fingerprint import digest
from runner.remote import RemoteFile, RemoteJob
from runner.state import ExperimentState, FileRecord, Run, State

_CONTENT_ADDRESSED = re.compile(r"\.([0-9a-f]{64})\.jsonl$")


def file_sha256(file_id: str, state: State, filename: str | None, read_sha256: Callable[[str], str | None]) -> str:
    """What state, the file's content-addressed name, or its content says the file's sha256 is."""
    for sha, record in state.files.items():
        if record.file_id == file_id:
            return sha
    named = _CONTENT_ADDRESSED.search(filename or "")
    if named:
        return named.group(1)
    return read_sha256(file_id) or f"unknown content ({file_id})"


def _suffix(job: RemoteJob, wanted: str | None) -> str | None:
    """The suffix the job was created with, as the target echoes it, or as the fine-tuned model's name holds it
    (ft:BASE:ORG:SUFFIX:ID); the spec's when neither says."""
    if job.suffix:
        return job.suffix
    parts = (job.fine_tuned_model or "").split(":")
    return (parts[3] or None) if len(parts) >= 5 else wanted


def _model(job: RemoteJob, d: Desired, state: State) -> Any:
    """The spec's model when the job trained it (a target may answer with the alias's dated snapshot); for a chain,
    the upstream's current model."""
    base = d.experiment.base_experiment
    if base is not None:
        es = state.experiments.get(base)
        run = es.current_run if es else None
        return d.inputs["model"] if run is not None and run.fine_tuned_model == job.model else job.model
    spec = d.experiment.model
    if job.model in (spec, d.api_model) or job.model.startswith(f"{spec}-"):
        return spec
    return job.model


def _hyperparameters(job: RemoteJob, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's hyperparameters as the job had them: one the spec leaves to the target ("auto") is matched by any
    value; one the spec sets is the job's value."""
    out = {}
    for key, value in wanted.items():
        got = job.hyperparameters.get(key)
        out[key] = value if value == "auto" or got is None else got
    return out


def imported_inputs(job: RemoteJob, d: Desired, shas: Mapping[str, str], state: State) -> dict[str, Any]:
    """The training inputs of `job`, as fingerprint.training_inputs would have them for the spec (`shas`: the
    sha256 of the job's files, by file id)."""
    exp = d.experiment
    method = exp.method.to_dict()
    method["type"] = job.method_type or exp.method.type
    method["hyperparameters"] = dict(sorted(_hyperparameters(job, exp.method.hyperparameters).items()))
    return {
        **d.inputs,
        "model": _model(job, d, state),
        "suffix": _suffix(job, exp.suffix),
        "method": method,
        "seed": job.seed if job.seed is not None else exp.seed,
        "training_file": shas.get(job.training_file or "", f"unknown ({job.training_file})"),
        "validation_file": shas.get(job.validation_file) if job.validation_file else None,
    }


def import_job(
    state: State, d: Desired, job: RemoteJob, shas: Mapping[str, str], files: Mapping[str, RemoteFile] | None = None
) -> State:
    """State with `job` as the current run of `d`'s experiment, and its files as uploads state knows (pure)."""
    name = d.experiment.name
    known = state.find_run(job.id)
    if known is not None:
        raise FtrunError(f"job {job.id} is already in state, as a run of '{known[0]}'")
    inputs = imported_inputs(job, d, shas, state)
    es = state.experiments.get(name) or ExperimentState(name, d.metadata_hash, dict(d.metadata))
    state = state.with_experiment(es)
    matches_data = inputs["training_file"] == d.training.sha256
    run = Run(
        job_id=job.id,
        training_hash=digest(inputs),
        inputs=inputs,
        status=job.status,
        created_at=job.created_at,
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error=job.error,
        finished_at=job.finished_at,
        adopted=True,
        examples=d.training.examples if matches_data else None,
        data_tokens=d.training.stats.total_tokens if matches_data and d.training.stats else None,
    )
    for file_id, sha in shas.items():
        remote = (files or {}).get(file_id)
        wanted = (d.training.sha256, d.validation.sha256 if d.validation else None)
        if remote is not None and sha in wanted and sha not in state.files:
            record = FileRecord(remote.id, remote.bytes, remote.filename, remote.created_at)
            state = state.with_file(sha, record)
    return state.with_run(name, run)
