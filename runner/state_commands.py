"""`ftrun state list|show|rm|mv`: read and edit the state document by hand, without touching the target.

Each edit is a pure function of the state; the command line runs it under the target's lock and saves the result
(the previous state stays in state/<target>.json.backup).
"""

from __future__ import annotations

import re
from typing import Any

from runner.diagnostics import FtrunError
from runner.selection import Selection
from runner.state import State

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # as the experiment schema's `name`


def _missing(state: State, name: str) -> FtrunError:
    known = ", ".join(sorted(state.experiments)) or "none"
    return FtrunError(f"no experiment '{name}' in the state of target '{state.target}' (known: {known})")


def list_rows(state: State, selection: Selection | None = None) -> list[dict[str, Any]]:
    """One row per experiment in state: its current run, how many runs, its fine-tuned model."""
    rows = []
    for name, es in sorted(state.experiments.items()):
        if selection is not None and name not in selection:
            continue
        run = es.current_run
        rows.append(
            {
                "experiment": name,
                "current": es.current,
                "status": run.status if run else None,
                "fine_tuned_model": run.fine_tuned_model if run else None,
                "runs": len(es.runs),
                "labels": list(es.metadata.get("labels") or ()),
            }
        )
    return rows


def show_document(state: State, name: str) -> dict[str, Any]:
    """Everything state records for one experiment, as the state file writes it."""
    if name not in state.experiments:
        raise _missing(state, name)
    return {"experiment": name, **state.to_dict()["experiments"][name]}


def remove(state: State, name: str) -> State:
    """State without `name`: ftrun forgets it; its jobs and models stay on the target."""
    if name not in state.experiments:
        raise _missing(state, name)
    return state.without_experiment(name)


def move(state: State, old: str, new: str) -> State:
    """State with `old` renamed to `new` (runs, models and everything recorded carry over)."""
    if old not in state.experiments:
        raise _missing(state, old)
    if new in state.experiments:
        raise FtrunError(
            f"state already has an experiment '{new}'",
            hint=f"remove it first with `ftrun state rm {new}` if it is no longer wanted",
        )
    if old == new:
        raise FtrunError(f"'{old}' already has that name")
    if not NAME.fullmatch(new):
        raise FtrunError(
            f"'{new}' is not an experiment name", hint="up to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit"
        )
    return state.renamed(old, new)
