"""`/v1/models`: base models, fine-tuned models and checkpoints; delete for fine-tuned models."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import flask

from runner.server import reads
from runner.server.errors import ApiError, invalid, not_found
from runner.server.model_catalog import ResolvedModel, resolve
from runner.server.routes import ctx

bp = flask.Blueprint("models", __name__)


def load_model(model_id: str) -> ResolvedModel:
    c = ctx()
    model = resolve(c.store, model_id, c.organization_id, c.base_models())
    if model is None:
        raise ApiError(
            404,
            f"The model '{model_id}' does not exist or you do not have access to it.",
            "invalid_request_error",
            "model",
            "model_not_found",
        )
    return model


@bp.get("/models")
def list_models() -> Any:
    return reads.models(ctx())


@bp.get("/models/<path:model_id>")
def retrieve_model(model_id: str) -> Any:
    return load_model(model_id).api_object()


@bp.delete("/models/<path:model_id>")
def delete_model(model_id: str) -> Any:
    c = ctx()
    model = load_model(model_id)
    if model.kind == "base":
        raise ApiError(403, f"You cannot delete the base model {model_id}.", "invalid_request_error", "model", None)
    if model.kind == "checkpoint":
        raise invalid(f"{model_id} is a checkpoint; checkpoints go away with their job's newer checkpoints.", "model")
    if not c.store.delete_model(model_id):
        raise not_found(f"The model '{model_id}' does not exist.", "model", "model_not_found")
    path = Path(model.source)
    if c.data.contains(path) and path.resolve() != c.data.root and path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    return {"id": model_id, "object": "model", "deleted": True}
