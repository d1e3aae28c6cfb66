"""What the specs ask for: each experiment with its prepared data, fingerprint and estimate, the planner's input.

`runner.pipeline` builds these from the workspace; `runner.plan` compares them with state and the target. `validate`
stops at them, so it never loads the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.datasets import Dataset
    from runner.evals.suite import Suite
    from runner.spec import Experiment


@dataclass(frozen=True)
class Estimate:
    epochs: int | None
    billed_tokens: int | None
    usd: float | None
    note: str | None = None


@dataclass(frozen=True)
class Desired:
    """One experiment as the specs and its prepared data want it."""

    experiment: Experiment
    training: Dataset
    validation: Dataset | None
    inputs: Mapping[str, Any]
    training_hash: str
    metadata: Mapping[str, Any]
    metadata_hash: str
    estimate: Estimate | None = None
    api_model: str | None = None  # the model as sent to the target, when it differs from the spec's (a local path)
    suites: tuple[Suite, ...] = ()  # the eval suites it lists, loaded and checked
