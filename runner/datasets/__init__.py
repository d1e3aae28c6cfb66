"""Datasets: turn an experiment's data declaration into the exact bytes that get validated, hashed and uploaded.

`prepare` is the one entry point the CLI uses before planning: it reads (or renders) the data, identifies it by the
sha256 of its bytes, checks every line, and returns findings as diagnostics with file and line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Split:
    validation: float  # fraction of rendered examples that go to the validation file
    seed: int = 0


@dataclass(frozen=True)
class DataSpec:
    """What a spec declares under `training_file` / `validation_file`."""

    path: str | None = None  # a JSONL file, relative to the workspace root
    template: str | None = None  # a Jinja2 template under templates/
    source: str | None = None  # CSV, JSONL or a JSON array, one record per example
    vars: Mapping[str, Any] = field(default_factory=dict)
    split: Split | None = None
    file: str | None = None  # the spec file that declared it (for diagnostics)
    line: int | None = None

    @property
    def display(self) -> str:
        if self.path:
            return self.path
        return f"{self.template} × {self.source}"


@dataclass(frozen=True)
class TokenStats:
    examples: int
    total_tokens: int
    assistant_tokens: int
    p10: int
    p50: int
    p90: int
    max: int
    over_limit: int
    billed_tokens_per_epoch: int  # Σ min(example tokens, context limit)
    encoding: str
    context_limit: int


@dataclass(frozen=True)
class Dataset:
    role: str  # "training" | "validation"
    display: str  # how the plan names it
    path: Path  # the bytes to upload
    sha256: str
    bytes: int
    examples: int
    stats: TokenStats | None = None


@dataclass(frozen=True)
class PreparedData:
    training: Dataset | None
    validation: Dataset | None
    diagnostics: tuple[Diagnostic, ...] = ()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_jsonl(spec: DataSpec, role: str, root: Path, experiment: str) -> tuple[Dataset | None, list[Diagnostic]]:
    assert spec.path is not None
    path = (root / spec.path).resolve()
    if not path.is_file():
        return None, [
            Diagnostic(
                Severity.ERROR,
                f"{role} data file not found: {spec.path}",
                file=spec.file,
                line=spec.line,
                experiment=experiment,
                check="missing-file",
            )
        ]
    diags: list[Diagnostic] = []
    examples = 0
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"line is not valid JSON: {e}",
                        file=spec.path,
                        line=lineno,
                        experiment=experiment,
                        check="invalid-json",
                    )
                )
                continue
            if not isinstance(obj, dict):
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"line is not a JSON object (found {type(obj).__name__})",
                        file=spec.path,
                        line=lineno,
                        experiment=experiment,
                        check="data_type",
                    )
                )
                continue
            examples += 1
    ds = Dataset(role, spec.path, path, sha256_file(path), path.stat().st_size, examples)
    return ds, diags


def prepare(
    training: DataSpec,
    validation: DataSpec | None,
    *,
    root: Path,
    cache_dir: Path,
    experiment: str,
    model: str,
    method: str,
) -> PreparedData:
    """Materialise, check and identify an experiment's data. Findings are returned, never raised."""
    diags: list[Diagnostic] = []
    train_ds, d = _load_jsonl(training, "training", root, experiment)
    diags += d
    val_ds = None
    if validation is not None:
        val_ds, d = _load_jsonl(validation, "validation", root, experiment)
        diags += d
    return PreparedData(train_ds, val_ds, tuple(diags))
