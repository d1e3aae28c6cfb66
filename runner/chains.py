"""Chains: a spec whose `model` is `{experiment: NAME}` trains on that experiment's fine-tuned model.

The upstream experiment is planned and applied first; the downstream's fingerprint holds the upstream's training
hash, so a change to the upstream retrains the downstream too ("its base model marv changed"). Its base model for
token counting and pricing is the root of the chain's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runner.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from runner.desired import Desired
    from runner.fingerprint import FieldDiff
    from runner.spec import Experiment
    from runner.state import State

BASE_FIELD = "model.training_hash"  # the field of a downstream's inputs that changes when its upstream does


def upstream_of(experiments: Iterable[Experiment]) -> dict[str, tuple[str, ...]]:
    """Each experiment's upstream (the experiment it builds on), for selection's `+name` and `name+`."""
    return {e.name: (e.base_experiment,) if e.base_experiment else () for e in experiments}


def reachable(start: str, edges: Callable[[str], Iterable[str]]) -> set[str]:
    """`start` and every name reached from it by following `edges` (e.g. all an experiment builds on)."""
    seen = {start}
    todo = [start]
    while todo:
        for nxt in edges(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def resolve(experiments: Sequence[Experiment]) -> tuple[list[Experiment], list[Diagnostic]]:
    """Experiments with each chain's root model filled in, and what is wrong with the chains (an unknown upstream,
    a cycle). An experiment in a broken chain is left out."""
    by_name = {e.name: e for e in experiments}
    diags: list[Diagnostic] = []
    broken: set[str] = set()
    reported: set[frozenset[str]] = set()
    for exp in experiments:
        base = exp.base_experiment
        if base is None:
            continue
        if base not in by_name:
            close = difflib.get_close_matches(base, list(by_name), n=1)
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{exp.name} builds on experiment '{base}', which no spec defines",
                    file=exp.file,
                    line=exp.line("model"),
                    experiment=exp.name,
                    check="unknown-experiment",
                    hint=f"did you mean '{close[0]}'?" if close else None,
                )
            )
            broken.add(exp.name)
            continue
        path = [exp.name]
        while (nxt := by_name[path[-1]].base_experiment) is not None and nxt in by_name and nxt not in path:
            path.append(nxt)
        if nxt is not None and nxt in path:  # a cycle
            cycle = path[path.index(nxt) :]
            broken.update(cycle)
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                files = ", ".join(sorted(by_name[n].file for n in cycle))
                first = by_name[sorted(cycle)[0]]
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"experiments build on each other in a cycle: {' -> '.join([*cycle, cycle[0]])} ({files})",
                        file=first.file,
                        line=first.line("model"),
                        experiment=first.name,
                        check="chain-cycle",
                        hint="one of them must train on a base model, not on another experiment",
                    )
                )
    out = []
    for exp in experiments:
        if exp.name in broken or any(n in broken for n in _chain(exp, by_name)):
            continue
        root = _chain(exp, by_name)[-1] if exp.base_experiment else exp.name
        out.append(replace(exp, model=by_name[root].model) if exp.base_experiment else exp)
    return out, diags


def _chain(exp: Experiment, by_name: Mapping[str, Experiment]) -> list[str]:
    """The experiments `exp` builds on, nearest first (assumes no cycle)."""
    out = []
    cur = exp
    seen = {exp.name}
    while cur.base_experiment is not None and cur.base_experiment in by_name and cur.base_experiment not in seen:
        seen.add(cur.base_experiment)
        out.append(cur.base_experiment)
        cur = by_name[cur.base_experiment]
    return out


def in_order(experiments: Sequence[Experiment]) -> list[Experiment]:
    """Upstream experiments before those that build on them (otherwise in the given order)."""
    by_name = {e.name: e for e in experiments}
    return sorted(experiments, key=lambda e: len(_chain(e, by_name)))


def depths(experiments: Iterable[Experiment]) -> dict[str, int]:
    """How many experiments each builds on (0: a base model), for applying upstream first."""
    listed = list(experiments)
    by_name = {e.name: e for e in listed}
    return {
        e.name: len(_chain(e, by_name)) + (1 if e.base_experiment and e.base_experiment not in by_name else 0)
        for e in listed
    }


def base_input(base: str, training_hash: str) -> dict[str, Any]:
    """What a downstream's fingerprint holds for its model: the upstream and the version of it it trains on."""
    return {"experiment": base, "training_hash": training_hash}


def changed(fields: Sequence[FieldDiff], inputs: Mapping[str, Any]) -> str:
    """`seed, method.hyperparameters.n_epochs changed`, `its base model marv changed`, or both: why a training change
    is a retrain."""
    model = inputs.get("model")
    base = model.get("experiment") if isinstance(model, Mapping) else None
    via_base = any(f.path == BASE_FIELD for f in fields)
    others = [f.path for f in fields if f.path != BASE_FIELD and not (via_base and f.path == "model.experiment")]
    parts = [f"its base model {base} changed"] if via_base else []
    if others:
        parts.append(f"{', '.join(others)} changed")
    return "; ".join(parts) or "training inputs changed"


def missing_bases(desired: Sequence[Desired], state: State) -> list[Diagnostic]:
    """A planned experiment whose base is not planned with it (left out of a selection) and has no run of the
    version it needs: it could not be trained, so the plan says so rather than apply failing half-way."""
    planned = {d.experiment.name for d in desired}
    out = []
    for d in desired:
        base = d.experiment.base_experiment
        if base is None or base in planned:
            continue
        es = state.experiments.get(base)
        run = es.current_run if es else None
        if run is None or run.training_hash != d.inputs["model"]["training_hash"]:
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{d.experiment.name} trains on the model of {base}, which is not in this plan and has no run "
                    "of the version it needs",
                    file=d.experiment.file,
                    line=d.experiment.line("model"),
                    experiment=d.experiment.name,
                    check="base-not-planned",
                    hint=f"select it too: `-s +{d.experiment.name}`",
                )
            )
    return out
