"""Wiring from a workspace on disk to the planner's inputs: specs, prepared data, and a snapshot of the target."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner import chains, datasets
from runner.datasets.jsonparse import JsonLineError, parse_line
from runner.desired import Desired, Estimate
from runner.diagnostics import Diagnostic, Severity
from runner.evals.suite import EVALS_DIR, Suite, load_suites, suite_files
from runner.fingerprint import digest, metadata_inputs, training_inputs
from runner.job_status import JobStatus
from runner.remote import TAG_WORKSPACE, Provider, Snapshot
from runner.spec import Experiment, load_experiments
from runner.state import State
from runner.workspace import Target, Workspace


@dataclass(frozen=True)
class Loaded:
    experiments: tuple[Experiment, ...]
    desired: tuple[Desired, ...]
    diagnostics: tuple[Diagnostic, ...]


def estimate(ws: Workspace, target: Target, exp: Experiment, prepared: datasets.PreparedData) -> Estimate | None:
    stats = prepared.training.stats if prepared.training else None
    if stats is None:
        return None
    from runner.datasets.pricing import estimate_cost

    n_epochs = exp.method.hyperparameters.get("n_epochs", "auto")
    cost = estimate_cost(exp.model, exp.method.type, n_epochs, stats, prices=ws.prices, free=target.free)
    return Estimate(epochs=cost.epochs, billed_tokens=cost.billed_tokens, usd=cost.usd, note=cost.note)


def load(ws: Workspace, target: Target, *, only: Sequence[str] = ()) -> Loaded:
    """Read every spec and prepare (render, check, hash, count) the data each one trains on."""
    experiments, diags = load_experiments(ws)
    if not ws.name_declared:
        diags.append(
            Diagnostic(
                Severity.WARNING,
                f"ftrun.yaml names no `workspace:`, so jobs are tagged with the directory's name '{ws.name}': "
                "a checkout in a directory of another name would not recognise them",
                file="ftrun.yaml",
                line=1,
                check="workspace-name",
                hint=f"add `workspace: {ws.name}` (any name unique to this repository) to ftrun.yaml",
            )
        )
    wanted = set(only) if only else {e.name for e in experiments}
    # What the wanted experiments build on is prepared too: their fingerprints hold its training hash.
    upstream = chains.upstream_of(experiments)
    needed = set().union(*(chains.reachable(n, lambda x: upstream.get(x, ())) for n in wanted)) if wanted else set()
    experiments = [e for e in chains.in_order(experiments) if e.name in needed]
    desired: list[Desired] = []
    hashes: dict[str, str] = {}
    seen: set[tuple[object, ...]] = set()
    suites, suite_diags = _suites(ws, experiments)
    for exp in experiments:
        if exp.method.type not in target.profile.methods:
            trained = ", ".join(sorted(target.profile.methods))
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"target '{target.name}' ({target.profile.name}) does not train the {exp.method.type} method "
                    f"(it trains {trained})",
                    file=exp.file,
                    line=exp.line("method"),
                    experiment=exp.name,
                    check="unsupported-method",
                    hint="choose another method, or another target with --target",
                )
            )
            continue
        prepared = datasets.prepare(
            exp.training_file,
            exp.validation_file,
            root=ws.root,
            cache_dir=ws.cache_dir,
            experiment=exp.name,
            model=exp.model,
            method=exp.method.type,
        )
        # Experiments that share a data file share its findings: report each once.
        for d in prepared.diagnostics:
            if _key(d) not in seen:
                seen.add(_key(d))
                diags.append(d)
        if prepared.training is None:
            continue
        inputs = training_inputs(
            exp,
            target.kind,
            prepared.training.sha256,
            prepared.validation.sha256 if prepared.validation else None,
        )
        if exp.base_experiment is not None:
            if exp.base_experiment not in hashes:
                continue  # its upstream's data did not prepare: that is reported, and planning stops there
            inputs["model"] = chains.base_input(exp.base_experiment, hashes[exp.base_experiment])
        hashes[exp.name] = digest(inputs)
        meta = metadata_inputs(exp)
        desired.append(
            Desired(
                experiment=exp,
                training=prepared.training,
                validation=prepared.validation,
                inputs=inputs,
                training_hash=digest(inputs),
                metadata=meta,
                metadata_hash=digest(meta),
                estimate=estimate(ws, target, exp, prepared),
                api_model=None if exp.base_experiment else _local_model_dir(ws, target, exp.model),
                suites=tuple(suites[n] for n in exp.evals if n in suites),
            )
        )
    # A suite rendered from a training data file meets that file's errors again: each is reported once.
    reported = {(d.file, d.line) for d in diags if d.severity is Severity.ERROR}
    diags += [d for d in suite_diags if (d.file, d.line) not in reported]
    return Loaded(
        tuple(e for e in experiments if e.name in wanted),
        tuple(d for d in desired if d.experiment.name in wanted),
        tuple(diags),
    )


def _suites(ws: Workspace, experiments: Sequence[Experiment]) -> tuple[dict[str, Suite], list[Diagnostic]]:
    """The eval suites the experiments list, each loaded once; an experiment naming no suite of evals/ is an error."""
    suites, diags = load_suites(ws, [n for e in experiments for n in e.evals])
    files = suite_files(ws)
    for exp in experiments:
        for name in exp.evals:
            if name not in files:
                known = ", ".join(sorted(files)) or f"none: {EVALS_DIR}/ has no suite"
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"unknown eval suite '{name}' (known: {known})",
                        file=exp.file,
                        line=exp.line("evals"),
                        experiment=exp.name,
                        check="unknown-suite",
                        hint=f"add {EVALS_DIR}/{name}.yaml, or fix the name under `evals:`",
                    )
                )
    return suites, diags


def _local_model_dir(ws: Workspace, target: Target, model: str) -> str | None:
    """For the built-in server in this process, a model directory in the workspace, as an absolute path."""
    if target.kind != "local" or model.startswith("ft:"):
        return None
    path = (ws.root / model).resolve()
    return str(path) if path.is_dir() else None


def system_prompt(path: Path, *, sample: int = 1000) -> str | None:
    """The system message most examples of a chat data file start with (what a model trained on it expects)."""
    counts: Counter[str] = Counter()
    with path.open("rb") as f:
        for line in itertools.islice(f, sample):
            try:
                messages = parse_line(line.rstrip(b"\r\n")).get("messages") or []
            except (JsonLineError, AttributeError):
                continue  # a line that is not an example is the data checks' business, not the chat's
            if (
                isinstance(messages, list)
                and messages
                and isinstance(messages[0], dict)
                and messages[0].get("role") == "system"
            ):
                counts[str(messages[0].get("content"))] += 1
    return counts.most_common(1)[0][0] if counts else None


def _key(d: Diagnostic) -> tuple[object, ...]:
    return (d.severity, d.message, d.file, d.line, d.check)


def snapshot(provider: Provider, state: State, ws: Workspace) -> Snapshot:
    """ftrun's jobs on the target (found by the workspace tag), plus the ids state knows that the target lost."""
    jobs = {j.id: j for j in provider.list_jobs({TAG_WORKSPACE: ws.name})}
    gone = set()
    for es in state.experiments.values():
        for run in es.runs:
            if run.job_id in jobs or run.status == JobStatus.GONE:
                continue
            job = provider.get_job(run.job_id)
            if job is None:
                gone.add(run.job_id)
            else:
                jobs[job.id] = job
    return Snapshot(jobs=jobs, gone=frozenset(gone))
