"""Fingerprints: what an experiment trains (the training hash) and what only describes it (the metadata hash).

A change to any training input means a new job; a change to metadata only updates state. `diff` names the fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.spec import Experiment


@dataclass(frozen=True)
class FieldDiff:
    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def training_inputs(
    exp: Experiment, provider_kind: str, training_sha256: str, validation_sha256: str | None
) -> dict[str, Any]:
    """Everything that changes what gets trained."""
    return {
        "provider": provider_kind,
        "model": exp.model,
        "suffix": exp.suffix,
        "method": exp.method.to_dict(),
        "seed": exp.seed,
        "training_file": training_sha256,
        "validation_file": validation_sha256,
    }


def metadata_inputs(exp: Experiment) -> dict[str, Any]:
    """What describes an experiment without changing what it trains."""
    return {
        "description": exp.description,
        "labels": list(exp.labels),
        "metadata": dict(sorted(exp.metadata.items())),
        "integrations": [dict(i) for i in exp.integrations],
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldDiff, ...]:
    """The leaf fields that differ, by dotted path (e.g. method.hyperparameters.n_epochs)."""
    a, b = _flatten(old), _flatten(new)
    return tuple(FieldDiff(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
