"""Which models exist: base models the trainer offers, fine-tuned models and the checkpoints of jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.server import training
from runner.server.objects import model_object
from runner.server.store import Store
from runner.server.training.gguf_conversion import is_gguf

_BASE_TTL_SECONDS = 30.0
_base_cache: tuple[float, tuple[str, ...]] | None = None
_base_lock = threading.Lock()


def cached_base_models() -> tuple[str, ...]:
    """`training.base_models()`, remembered for a short while (it may scan the HF cache)."""
    global _base_cache
    with _base_lock:
        if _base_cache is None or time.monotonic() - _base_cache[0] > _BASE_TTL_SECONDS:
            _base_cache = (time.monotonic(), tuple(training.base_models()))
        return _base_cache[1]


@dataclass(frozen=True)
class ResolvedModel:
    id: str
    kind: Literal["base", "fine-tuned", "checkpoint"]
    source: str  # what the trainer and `generate` load: a preset id or hub id for base models, a directory otherwise
    created: int
    owned_by: str

    @property
    def path(self) -> Path:
        return Path(self.source)

    def api_object(self) -> dict[str, object]:
        return model_object(self.id, self.created, self.owned_by)


def resolve(store: Store, model_id: str, organization_id: str, base_ids: Sequence[str]) -> ResolvedModel | None:
    row = store.get_model(model_id)
    if row is not None:
        return ResolvedModel(row["id"], "fine-tuned", row["path"], row["created"], row["owned_by"])
    ckpt = store.checkpoint_by_model(model_id)
    if ckpt is not None:
        return ResolvedModel(ckpt["model"], "checkpoint", ckpt["path"], ckpt["created_at"], organization_id)
    if model_id in base_ids:
        return ResolvedModel(model_id, "base", model_id, 0, "system")
    if is_model_directory(model_id) or is_model_file(model_id):
        return ResolvedModel(model_id, "base", model_id, int(Path(model_id).stat().st_mtime), "system")
    return None


def is_model_directory(model_id: str) -> bool:
    """An absolute path to a Hugging Face model (or adapter) saved on this machine."""
    path = Path(model_id)
    return path.is_absolute() and ((path / "config.json").is_file() or (path / "adapter_config.json").is_file())


def is_model_file(model_id: str) -> bool:
    """An absolute path to a GGUF model file on this machine (converted to a Hugging Face directory when used)."""
    path = Path(model_id)
    return path.is_absolute() and is_gguf(path)


def all_models(store: Store, organization_id: str, base_ids: Sequence[str]) -> list[ResolvedModel]:
    out = [ResolvedModel(m, "base", m, 0, "system") for m in base_ids]
    out += [ResolvedModel(r["id"], "fine-tuned", r["path"], r["created"], r["owned_by"]) for r in store.list_models()]
    out += [
        ResolvedModel(c["model"], "checkpoint", c["path"], c["created_at"], organization_id)
        for c in store.all_checkpoints()
    ]
    return out
