"""The data layer's records: what a spec declares (DataSpec) and what preparing it yields (Dataset, TokenStats)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.diagnostics import Diagnostic


@dataclass(frozen=True)
class Split:
    validation: float  # fraction of rendered examples that go to the validation file
    seed: int = 0


@dataclass(frozen=True)
class DataSpec:
    """What a spec declares under `training_file` / `validation_file`."""

    path: str | None = None  # a JSONL file, relative to the workspace root
    template: str | None = None  # a Jinja2 template under templates/
    # CSV, JSONL or a JSON array, one record per example: a path, or a mapping with `path`, an optional `format`
    # and the format's options, e.g. {path: data/chat.csv, format: chat_history, me: Alice, session_gap_minutes: 30}
    source: str | Mapping[str, Any] | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    split: Split | None = None
    file: str | None = None  # the spec file that declared it (for diagnostics)
    line: int | None = None
    template_line: int | None = None  # the line of `template:` in that file

    @property
    def source_path(self) -> str | None:
        if isinstance(self.source, Mapping):
            path = self.source.get("path")
            return path if isinstance(path, str) else None
        return self.source

    @property
    def source_fmt(self) -> str | None:
        """How to read the source: `format` in a source mapping ("csv", "jsonl", "json" for an array, or
        "chat_history": rows of time, sender, text grouped into conversations); None means by the file's extension."""
        if isinstance(self.source, Mapping):
            fmt = self.source.get("format")
            return str(fmt) if fmt is not None else None
        return None

    @property
    def source_opts(self) -> Mapping[str, Any]:
        """The source format's options: the keys of a source mapping other than path and format."""
        if isinstance(self.source, Mapping):
            return {k: v for k, v in self.source.items() if k not in ("path", "format")}
        return {}

    @property
    def display(self) -> str:
        if self.path:
            return self.path
        return f"{self.template} × {self.source_path}"


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
    missing_system: int = 0  # examples with no system (or developer) message, as the notebook reports
    missing_user: int = 0  # examples with no user message


@dataclass(frozen=True)
class Dataset:
    role: str  # "training" | "validation"
    display: str  # how the plan names it
    path: Path  # the bytes to upload
    sha256: str
    bytes: int
    examples: int
    stats: TokenStats | None = None
    # Findings per check name over the whole file (the first few are also in PreparedData.diagnostics).
    check_counts: tuple[tuple[str, int], ...] = ()
    rendered: bool = False  # the bytes were rendered from a template (path is under the cache folder)


@dataclass(frozen=True)
class PreparedData:
    training: Dataset | None
    validation: Dataset | None
    diagnostics: tuple[Diagnostic, ...] = ()
