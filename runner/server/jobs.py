"""The fine-tuning job lifecycle as the API drives it: create, cancel, pause, resume."""

from __future__ import annotations

from typing import Any

from runner.job_status import JobStatus
from runner.server import ids
from runner.server.context import ServerContext
from runner.server.errors import ApiError, invalid, not_found
from runner.server.job_request import JobRequest
from runner.server.job_transitions import Transition, refusal
from runner.server.model_catalog import resolve
from runner.server.store import now


def _check_file(c: ServerContext, file_id: str, param: str) -> None:
    row = c.store.get_file(file_id) if ids.is_valid_id(file_id, "file-") else None
    if row is None:
        raise invalid(f"invalid {param}: {file_id}", param=param)
    if row["purpose"] != "fine-tune":
        raise invalid(
            f"File {file_id} has purpose '{row['purpose']}'; fine-tuning needs a file uploaded with purpose"
            " 'fine-tune'.",
            param=param,
        )


def create(c: ServerContext, req: JobRequest) -> dict[str, Any]:
    _check_file(c, req.training_file, "training_file")
    if req.validation_file is not None:
        _check_file(c, req.validation_file, "validation_file")
    model = resolve(c.store, req.model, c.organization_id, c.base_models())
    if model is None:
        raise invalid(
            f"Model {req.model} is not available for fine-tuning or does not exist.",
            param="model",
            code="model_not_available",
        )
    job_id = ids.job_id()
    c.store.add_job(
        {
            "id": job_id,
            "created_at": now(),
            "status": JobStatus.VALIDATING_FILES.value,
            "model": req.model,
            "base_model": model.source,
            "training_file": req.training_file,
            "validation_file": req.validation_file,
            "suffix": req.suffix,
            "seed": ids.seed() if req.seed is None else req.seed,
            "method": req.method,
            "metadata": req.metadata,
            "integrations": req.integrations,
            "error": None,
            "result_files": [],
        },
        events=(f"Created fine-tuning job: {job_id}", f"Validating training file: {req.training_file}"),
    )
    c.wake_worker()
    return get(c, job_id)


def get(c: ServerContext, job_id: str) -> dict[str, Any]:
    row = c.store.get_job(job_id)
    if row is None:
        raise not_found(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
    return row


def _transition(c: ServerContext, job_id: str, transition: Transition) -> dict[str, Any]:
    current = get(c, job_id)["status"]
    if not c.store.transition(job_id, transition):
        status = c.store.job_status(job_id) or current
        raise ApiError(400, refusal(transition, job_id, status), "invalid_request_error", None, None)
    return get(c, job_id)


def cancel(c: ServerContext, job_id: str) -> dict[str, Any]:
    return _transition(c, job_id, Transition.CANCELLED)


def pause(c: ServerContext, job_id: str) -> dict[str, Any]:
    return _transition(c, job_id, Transition.PAUSED)


def resume(c: ServerContext, job_id: str) -> dict[str, Any]:
    job = _transition(c, job_id, Transition.RESUMED)
    c.wake_worker()
    return job
