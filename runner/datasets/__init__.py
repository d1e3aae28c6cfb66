"""Datasets: turn an experiment's data declaration into the exact bytes that get validated, hashed and uploaded.

`prepare` is the one entry point the CLI uses before planning: it reads (or renders) the data, identifies it by the
sha256 of its bytes, checks every line, counts its tokens, and returns findings as diagnostics with file and line.
`write_rendered` / `render_bytes` give `ftrun render` the rendered bytes; `pricing.estimate_cost` and
`pricing.actual_cost` price a job.
"""

from __future__ import annotations

from runner.datasets.cache import sha256_file
from runner.datasets.checks import CHECKS, MIN_TRAINING_EXAMPLES
from runner.datasets.materialize import MaterializeError, render_bytes, write_rendered
from runner.datasets.preparation import prepare
from runner.datasets.records import Dataset, DataSpec, PreparedData, Split, TokenStats

__all__ = [
    "CHECKS",
    "MIN_TRAINING_EXAMPLES",
    "DataSpec",
    "Dataset",
    "MaterializeError",
    "PreparedData",
    "Split",
    "TokenStats",
    "prepare",
    "render_bytes",
    "sha256_file",
    "write_rendered",
]
