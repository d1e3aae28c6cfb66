"""`method:` in OpenAI's own request shape as well as ftrun's.

ftrun's form puts the method's settings beside its type:

    method: {type: supervised, hyperparameters: {n_epochs: 3}}

OpenAI's job request nests them under a key named after the type:

    method: {type: supervised, supervised: {hyperparameters: {n_epochs: 3}}}

Both are the same experiment: the nested form is rewritten to ftrun's before the schema check (each value keeps its
line, so errors point into the file as written), so both give the same fingerprint and switching never retrains.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.diagnostics import Diagnostic, Severity
from runner.yamlsource import Path_

METHOD_TYPES = ("supervised", "dpo", "reinforcement")


def _moved(path: Path_, at: Path_) -> Path_ | None:
    """`path` with the nesting key at `at` (e.g. method.supervised) taken out, or None when it is not below it."""
    if path[: len(at)] == at and len(path) > len(at):
        return (*at[:-1], *path[len(at) :])
    return None


def normalise(
    data: Any, lines: Mapping[Path_, int], *, file: str, prefix: Path_ = (), experiment: str | None = None
) -> tuple[Any, dict[Path_, int], list[Diagnostic]]:
    """`data` (the mapping that holds `method`, at `prefix` in the document) with a method in OpenAI's form
    rewritten to ftrun's, the lines of the rewritten values, and an error if the two forms are mixed."""
    out_lines = dict(lines)
    method = data.get("method") if isinstance(data, dict) else None
    kind = method.get("type") if isinstance(method, dict) else None
    if not isinstance(method, dict) or kind not in METHOD_TYPES or not isinstance(method.get(kind), dict):
        return data, out_lines, []
    assert isinstance(kind, str)
    body: dict[str, Any] = method[kind]
    nested: Path_ = (*prefix, "method", kind)
    twice = sorted(k for k in body if k in method)
    if twice:
        line = lines.get(("<key>", *nested, twice[0]), lines.get(nested, 1))
        return (
            data,
            out_lines,
            [
                Diagnostic(
                    Severity.ERROR,
                    f"method: {twice[0]} is given both beside `type` and under `{kind}:`",
                    file=file,
                    line=line,
                    experiment=experiment,
                    check="bad-value",
                    hint=f"write it once: `method: {{type: {kind}, {twice[0]}: ...}}` or OpenAI's "
                    f"`method: {{type: {kind}, {kind}: {{{twice[0]}: ...}}}}`",
                )
            ],
        )
    new_method = {k: v for k, v in method.items() if k != kind}
    new_method.update(body)
    for path, line in lines.items():
        is_key = bool(path) and path[0] == "<key>"
        moved = _moved(path[1:] if is_key else path, nested)
        if moved is not None:
            out_lines[("<key>", *moved) if is_key else moved] = line
    return {**data, "method": new_method}, out_lines, []
