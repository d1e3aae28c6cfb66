"""Renames: `moved_from: old-name` in a spec (like Terraform's `moved` block).

The experiment keeps everything state holds under its old name (runs, models, what was recorded about it) and takes
the new name; nothing retrains. Once applied, the line may stay (it then matches nothing) or go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from runner.desired import Desired
    from runner.spec import Experiment
    from runner.state import State


@dataclass(frozen=True)
class Move:
    old: str
    new: str
    file: str
    line: int
    notes: tuple[str, ...] = ()


def move_errors(experiments: Sequence[Experiment]) -> list[Diagnostic]:
    """What no state can make right: moving from a name a spec still has, from one's own name, or from one name
    twice."""
    names = {e.name: e for e in experiments}
    diags = []
    first: dict[str, Experiment] = {}
    for exp in experiments:
        old = exp.moved_from
        if old is None:
            continue
        where = {"file": exp.file, "line": exp.line("moved_from"), "experiment": exp.name, "check": "bad-move"}
        if old == exp.name:
            diags.append(Diagnostic(Severity.ERROR, f"{exp.name} is moved from its own name", **where))  # type: ignore[arg-type]
        elif old in names:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{exp.name} is moved from '{old}', but {names[old].file} still defines '{old}'",
                    hint=f"remove or rename {names[old].file}, or drop `moved_from`",
                    **where,  # type: ignore[arg-type]
                )
            )
        elif old in first:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"two experiments are moved from '{old}': {first[old].file} and {exp.file}",
                    hint="one experiment can take over another's state, not two",
                    **where,  # type: ignore[arg-type]
                )
            )
        else:
            first[old] = exp
    return diags


def plan_moves(desired: Sequence[Desired], state: State) -> tuple[State, tuple[Move, ...], tuple[Diagnostic, ...]]:
    """State as it is once every pending rename is made, the renames, and the conflicts found (pure)."""
    moves = []
    diags = []
    for d in sorted(desired, key=lambda d: d.experiment.name):
        exp = d.experiment
        old, new = exp.moved_from, exp.name
        if old is None or old not in state.experiments:
            continue  # already moved (or there was never anything to move): the line may stay
        line = exp.line("moved_from")
        if new in state.experiments:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{new} is moved from '{old}', but state has both '{old}' and '{new}'",
                    file=exp.file,
                    line=line,
                    experiment=new,
                    check="bad-move",
                    hint=f"keep one: `ftrun state rm {old}` or `ftrun state rm {new}`, then plan again",
                )
            )
            continue
        notes: tuple[str, ...] = ()
        cur = state.experiments[old].current_run
        was, now = (cur.inputs.get("suffix") if cur else None), d.inputs.get("suffix")
        if cur is not None and was != now and "suffix" not in exp.lines:
            notes = (
                f"its suffix comes from its name, so it changes ({was} -> {now}) and it retrains: "
                f"add `suffix: {was}` to {exp.file} to keep it",
            )
        state = state.renamed(old, new)
        moves.append(Move(old, new, exp.file, line, notes))
    return state, tuple(moves), tuple(diags)
