"""Experiment specs: experiments/*.yaml, one experiment per file, checked against the shipped JSON Schema."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runner import chains, method_forms, sweeps
from runner.datasets import DataSpec, Split
from runner.diagnostics import Diagnostic, Severity, SpecError
from runner.evals.gate import Promotion
from runner.moves import move_errors
from runner.schemacheck import check
from runner.workspace import CONFIG_FILE, Workspace
from runner.yamlsource import Located, load_yaml

EXPERIMENTS_DIR = "experiments"
METHODS = ("supervised", "dpo", "reinforcement")


@dataclass(frozen=True)
class Method:
    type: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # reinforcement: grader, response_format

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "hyperparameters": dict(sorted(self.hyperparameters.items()))}
        out.update(sorted(self.extra.items()))
        return out

    def to_api(self) -> dict[str, Any]:
        """OpenAI's `method` object for job creation."""
        body: dict[str, Any] = {}
        if self.hyperparameters:
            body["hyperparameters"] = dict(self.hyperparameters)
        body.update(self.extra)
        return {"type": self.type, self.type: body}


@dataclass(frozen=True)
class Experiment:
    name: str
    file: str  # relative to the workspace root
    model: str
    training_file: DataSpec
    validation_file: DataSpec | None = None
    method: Method = field(default_factory=lambda: Method("supervised"))
    suffix: str | None = None
    seed: int | None = None
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    integrations: tuple[Mapping[str, Any], ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict)  # top-level field -> line in `file`
    moved_from: str | None = None  # the experiment's previous name (see runner.moves)
    base_experiment: str | None = None  # `model: {experiment: NAME}`: trains on NAME's model (see runner.chains)
    defaulted: frozenset[str] = frozenset()  # top-level fields that came from ftrun.yaml's `defaults:`
    sweep: str | None = None  # the spec's own name, for a variant of its `matrix:` (see runner.sweeps)
    sweep_values: tuple[tuple[str, Any], ...] = ()  # the variant's (dotted field, value)s
    sweep_size: int = 0  # how many variants the matrix makes
    evals: tuple[str, ...] = ()  # eval suites (evals/<suite>.yaml) its models are scored on
    promote: Promotion | None = None  # the alias its runs are promoted to, and the gate

    def line(self, key: str = "") -> int:
        return self.lines.get(key, 1)


def default_suffix(name: str) -> str:
    """The experiment's name, as a fine-tuned model suffix (at most 64 of [A-Za-z0-9_.-])."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:64] or "ftrun"


def _data_spec(value: Any, located: Located, key: str) -> DataSpec:
    line = located.line((key,))
    if isinstance(value, str):
        return DataSpec(path=value, file=located.file, line=line)
    split = value.get("split")
    if "path" in value:
        return DataSpec(path=value["path"], split=_split(split), file=located.file, line=line)
    source = value["source"]
    return DataSpec(
        template=value.get("template"),  # optional for sources that are conversations (chat exports, datasets)
        source=source,  # a path, or a mapping with `path` and options of the source's format
        vars=dict(value.get("vars") or {}),
        split=_split(split),
        file=located.file,
        line=line,
        template_line=located.key_line((key, "template")),
    )


def _split(value: Any) -> Split | None:
    return Split(validation=float(value["validation"]), seed=int(value.get("seed", 0))) if value else None


def _method(value: Any) -> Method:
    if value is None:
        return Method("supervised")
    if isinstance(value, str):
        return Method(value)
    extra = {k: v for k, v in value.items() if k not in ("type", "hyperparameters")}
    return Method(value["type"], dict(value.get("hyperparameters") or {}), extra)


def _promotion(
    value: Any, evals: tuple[str, ...], located: Located, line: int, name: str, *, swept: bool
) -> Promotion | Diagnostic | None:
    if value is None:
        return None
    when = value.get("when") or {}
    pin = value.get("pin")
    pick = value.get("pick")
    file = located.file
    problem = None
    if pick is not None and not swept:
        problem = "`promote.pick` picks among the variants of a `matrix:`, and this spec has none"
        line = located.key_line(("promote", "pick"))
    elif pick is not None and pin:
        problem = "`promote.pick` picks a variant by its evals and `pin` names a fixed run: choose one"
        line = located.key_line(("promote", "pick"))
    elif when and pin:
        problem = "`promote` has both `when` (a gate) and `pin` (a fixed run): choose one"
    elif not when and not pin:
        problem = "`promote` needs `when: {suite:, min_pass_rate:}` (a gate) or `pin: <job id>`"
    elif when and when["suite"] not in evals:
        problem = f"`promote.when.suite` is '{when['suite']}', which is not one of this experiment's `evals`"
    if problem:
        return Diagnostic(Severity.ERROR, problem, file=file, line=line, experiment=name, check="bad-promote")
    return Promotion(
        alias=value["alias"],
        suite=when.get("suite"),
        min_pass_rate=float(when.get("min_pass_rate", 0.0)),
        no_regression=bool(when.get("no_regression", False)),
        pin=pin,
        pick=pick,
    )


def _merge_defaults(data: dict[str, Any], defaults: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    merged = copy.deepcopy(dict(defaults))
    from_defaults = set(merged)
    for key, value in data.items():
        if key == "metadata" and isinstance(value, dict) and isinstance(merged.get("metadata"), dict):
            merged["metadata"] = {**merged["metadata"], **value}
        else:
            merged[key] = value
        from_defaults.discard(key)
    return merged, from_defaults


def load_experiment(path: Path, ws: Workspace) -> tuple[list[Experiment], list[Diagnostic]]:
    """The experiment a spec file declares (one per combination of values when it has a `matrix:`)."""
    rel = ws.relative(path)
    try:
        located = load_yaml(path, rel)
    except SpecError as e:
        return [], list(e.diagnostics)
    if not isinstance(located.data, dict):
        found = "an empty file" if located.data is None else f"a {type(located.data).__name__}"
        return [], [
            Diagnostic(
                Severity.ERROR,
                f"an experiment must be a mapping of fields, found {found}",
                file=rel,
                line=1,
                check="wrong-type",
            )
        ]
    data, lines_by_path, diags = method_forms.normalise(located.data, located.lines, file=rel)
    if diags:
        return [], diags
    located = Located(data, rel, lines_by_path)
    declared = located.data.get("name")
    name: str = declared if isinstance(declared, str) else path.stem
    merged, from_defaults = _merge_defaults(located.data, ws.defaults.data or {})
    # Values that came from ftrun.yaml's defaults were checked, at their own lines, when the workspace loaded.
    diags = check(
        Located(merged, rel, located.lines), "experiment", experiment=name, skip=from_defaults, cache_dir=ws.cache_dir
    )
    if diags:
        return [], diags
    if "matrix" in merged:
        return _sweep(name, merged, located, from_defaults, ws.cache_dir)
    exp, problems = _experiment(name, merged, located, from_defaults)
    return ([exp] if exp else []), problems


def _sweep(
    name: str, merged: dict[str, Any], located: Located, from_defaults: set[str], cache_dir: Path
) -> tuple[list[Experiment], list[Diagnostic]]:
    """One experiment per combination of the matrix's values, each checked with the values it was given."""
    matrix_line = located.key_line(("matrix",))
    combinations = math.prod(len(v) for v in merged["matrix"].values())
    where = {"file": located.file, "line": matrix_line, "experiment": name}
    if combinations > sweeps.MAX_VARIANTS:
        message = f"the matrix makes {combinations} experiments, more than {sweeps.MAX_VARIANTS}"
        return [], [Diagnostic(Severity.ERROR, message, check="bad-matrix", **where)]  # type: ignore[arg-type]
    if merged.get("moved_from") is not None:
        message = "a spec with a matrix cannot be moved_from another experiment (move each variant with ftrun state mv)"
        return [], [Diagnostic(Severity.ERROR, message, check="bad-matrix", **where)]  # type: ignore[arg-type]
    experiments: list[Experiment] = []
    diags: list[Diagnostic] = []
    variants = sweeps.expand(name, merged, located.lines)
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # values that read the same, such as 1 and "1"
        message = f"two combinations of the matrix would both be named {twice[0]}: write their values apart"
        return [], [Diagnostic(Severity.ERROR, message, check="bad-matrix", **where)]  # type: ignore[arg-type]
    for v in variants:
        swept = {path[0] for path in v.lines}
        lines = {**located.lines, **v.lines}
        at = Located(v.data, located.file, lines)
        found = check(at, "experiment", experiment=v.name, skip=from_defaults - swept, cache_dir=cache_dir)
        diags += [d for d in found if (d.line, d.message) not in {(x.line, x.message) for x in diags}]
        if not found:
            exp, problems = _experiment(v.name, v.data, at, from_defaults - swept, swept=True)
            diags += [d for d in problems if (d.line, d.message) not in {(x.line, x.message) for x in diags}]
            if exp is not None:
                experiments.append(replace(exp, sweep=name, sweep_values=v.values, sweep_size=len(variants)))
    return (experiments if not diags else []), diags


def _experiment(
    name: str, merged: dict[str, Any], located: Located, from_defaults: set[str], *, swept: bool = False
) -> tuple[Experiment | None, list[Diagnostic]]:
    lines = {key: located.key_line((key,)) for key in located.data}
    for key in from_defaults:
        lines.setdefault(key, 1)
    chained = merged["model"] if isinstance(merged["model"], dict) else None
    evals = tuple(merged.get("evals") or ())
    promotion = _promotion(merged.get("promote"), evals, located, lines.get("promote", 1), name, swept=swept)
    if isinstance(promotion, Diagnostic):
        return None, [promotion]
    exp = Experiment(
        name=name,
        file=located.file,
        model=merged["model"] if chained is None else "",  # a chain's root model, once runner.chains resolves it
        base_experiment=chained["experiment"] if chained else None,
        training_file=_data_spec(merged["training_file"], located, "training_file"),
        validation_file=_data_spec(merged["validation_file"], located, "validation_file")
        if merged.get("validation_file") is not None
        else None,
        method=_method(merged.get("method")),
        suffix=merged.get("suffix") or default_suffix(name),
        seed=merged.get("seed"),
        description=merged.get("description", ""),
        metadata=dict(merged.get("metadata") or {}),
        labels=tuple(merged.get("labels") or ()),
        integrations=tuple(merged.get("integrations") or ()),
        lines=lines,
        moved_from=merged.get("moved_from"),
        defaulted=frozenset(from_defaults),
        evals=evals,
        promote=promotion,
    )
    return exp, []


def load_experiments(ws: Workspace) -> tuple[list[Experiment], list[Diagnostic]]:
    """Every experiment of the workspace, and every problem found in any of them (all files are read)."""
    exp_dir = ws.root / EXPERIMENTS_DIR
    files = sorted([*exp_dir.glob("*.yaml"), *exp_dir.glob("*.yml")]) if exp_dir.is_dir() else []
    experiments: list[Experiment] = []
    diags: list[Diagnostic] = []
    by_name: dict[str, Experiment] = {}
    for path in files:
        found_experiments, found = load_experiment(path, ws)
        diags += found
        for exp in found_experiments:
            if exp.name in by_name:
                first = by_name[exp.name]
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"two experiments are named '{exp.name}': {first.file} and {exp.file}",
                        file=exp.file,
                        line=exp.line("name"),
                        experiment=exp.name,
                        check="duplicate-name",
                        hint="give one of them another `name:` (or rename the file)",
                    )
                )
                continue
            by_name[exp.name] = exp
            experiments.append(exp)
    diags += move_errors(experiments)
    experiments, chain_diags = chains.resolve(experiments)
    diags += chain_diags
    if not files:
        diags.append(
            Diagnostic(
                Severity.WARNING,
                f"no experiments found in {EXPERIMENTS_DIR}/",
                file=CONFIG_FILE,
                check="no-experiments",
            )
        )
    return experiments, diags
