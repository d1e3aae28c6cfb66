"""Render stored records as OpenAI's API objects (the JSON the SDK parses)."""

from __future__ import annotations

from typing import Any

ORG_SLUG = "personal"


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": "processed",
        "status_details": None,
    }


def upload_object(row: dict[str, Any], file: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "upload",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": row["status"],
        "expires_at": row["expires_at"],
        "file": None if file is None else file_object(file),
    }


def part_object(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "object": "upload.part", "created_at": row["created_at"], "upload_id": row["upload_id"]}


def job_object(row: dict[str, Any], organization_id: str) -> dict[str, Any]:
    method = row["method"]
    hyperparameters = method["supervised"]["hyperparameters"] if method["type"] == "supervised" else None
    return {
        "id": row["id"],
        "object": "fine_tuning.job",
        "created_at": row["created_at"],
        "error": row["error"] or {},
        "fine_tuned_model": row["fine_tuned_model"],
        "finished_at": row["finished_at"],
        "hyperparameters": hyperparameters,
        "model": row["model"],
        "organization_id": organization_id,
        "result_files": row["result_files"],
        "status": row["status"],
        "trained_tokens": row["trained_tokens"],
        "training_file": row["training_file"],
        "validation_file": row["validation_file"],
        "seed": row["seed"],
        "estimated_finish": None,
        "integrations": row["integrations"],
        "metadata": row["metadata"],
        "method": method,
        "user_provided_suffix": row["suffix"],
    }


def event_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.event",
        "id": row["id"],
        "created_at": row["created_at"],
        "level": row["level"],
        "message": row["message"],
        "data": row["data"],
        "type": row["type"],
    }


def checkpoint_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.checkpoint",
        "id": row["id"],
        "created_at": row["created_at"],
        "fine_tuned_model_checkpoint": row["model"],
        "step_number": row["step"],
        "fine_tuning_job_id": row["job_id"],
        "metrics": row["metrics"],
    }


def model_object(model_id: str, created: int, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def list_object(data: list[dict[str, Any]], has_more: bool, *, with_ids: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if with_ids:
        out["first_id"] = data[0]["id"] if data else None
        out["last_id"] = data[-1]["id"] if data else None
    return out
