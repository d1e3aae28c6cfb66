"""What each experiment's data is now, against what its current run was trained on: examples and tokens.

A pure reading of the prepared data (runner.desired.Desired) and of state, whose runs record the examples and tokens
of the data they were created from (see runner.apply). A run recorded before that was kept gives no delta.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.desired import Desired
from runner.state import State


@dataclass(frozen=True)
class DataDelta:
    file: str  # how the plan names the training file
    examples: int
    tokens: int | None  # None when the file's tokens could not be counted
    examples_change: int | None = None  # against the current run; None when there is none or it recorded nothing
    tokens_change: int | None = None

    @property
    def change(self) -> tuple[int, int] | None:
        if self.examples_change is None or self.tokens_change is None:
            return None
        return self.examples_change, self.tokens_change


def data_deltas(desired: Sequence[Desired], state: State) -> Mapping[str, DataDelta]:
    """Per experiment name: its training data now, and the change since its current run when state knows it."""
    out: dict[str, DataDelta] = {}
    for d in desired:
        ds = d.training
        tokens = ds.stats.total_tokens if ds.stats else None
        es = state.experiments.get(d.experiment.name)
        run = es.current_run if es else None
        examples_change = tokens_change = None
        if run is not None and run.examples is not None and run.data_tokens is not None and tokens is not None:
            examples_change, tokens_change = ds.examples - run.examples, tokens - run.data_tokens
        out[d.experiment.name] = DataDelta(ds.display, ds.examples, tokens, examples_change, tokens_change)
    return out
