"""Check a located YAML document against one of ftrun's JSON Schemas, reporting each problem at its file:line.

A document that passed is remembered in the workspace's cache (`schema/`, by the schema's text and the exact
parsed value), so an unchanged spec is not checked again and jsonschema is not even imported for it: a warm
`validate` or `plan` spends its time on what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import pickle
from collections.abc import Collection
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.diagnostics import Diagnostic, Severity
from runner.yamlsource import Located

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMAS = ("experiment", "workspace", "suite")  # the files in runner/schemas/, written for editors
NOT_DEFAULTS = ("name", "description", "training_file", "moved_from", "matrix")  # what ftrun.yaml's defaults lack


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in runner/schemas/ (one of SCHEMAS), or "defaults": the experiment fields that ftrun.yaml's
    `defaults:` may give."""
    if name == "defaults":
        schema = dict(load_schema("experiment"))
        schema.pop("required", None)
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in NOT_DEFAULTS}
        return schema
    text = resources.files("runner.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _schema_digest(name: str) -> str:
    return hashlib.sha256(json.dumps(load_schema(name), sort_keys=True).encode()).hexdigest()


def _passed_marker(cache_dir: Path, name: str, data: Any) -> Path | None:
    """Where a pass of `data` against schema `name` is remembered. The value is keyed by its pickle, which tells
    apart everything a schema can (1 from "1" and from True, a date from its text), so a marker is never shared by
    two values that could be judged differently; None for a value that cannot be pickled."""
    try:
        value = pickle.dumps(data, protocol=5)
    except (pickle.PicklingError, TypeError, RecursionError):
        return None
    key = hashlib.sha256(f"{__version__}\0{_schema_digest(name)}\0".encode() + value).hexdigest()
    return cache_dir / "schema" / key[:2] / key


def violations(data: Any, name: str, *, cache_dir: Path | None = None) -> list[ValidationError]:
    """Every way `data` breaks schema `name`; an empty answer is remembered under `cache_dir` (when given)."""
    marker = _passed_marker(cache_dir, name, data) if cache_dir is not None else None
    if marker is not None and marker.is_file():
        return []
    found = list(_validator(name).iter_errors(data))
    if not found and marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # a read-only checkout: the check simply runs again next time
            pass
    return found


def editor_schema(name: str) -> dict[str, Any]:
    """What an editor checks while a file is typed: the schema, less an experiment's required fields, which
    ftrun.yaml's `defaults:` may supply (`ftrun validate` checks them once defaults are applied)."""
    schema = dict(load_schema(name))
    if name == "experiment":
        schema.pop("required", None)
    return schema


def write_schemas(directory: Path) -> list[Path]:
    """The editor schemas as files in `directory` (`ftrun schema --write`, `ftrun init`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(editor_schema(name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(name))


def _allowed_keys(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(props)


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The most specific errors: descend into if/then and anyOf/oneOf branches."""
    if error.context:
        # For a oneOf/anyOf, report the branch that got furthest (the deepest path).
        # Prefer the branch whose type matched (its error says what is wrong with the value, not that the value
        # has another type).
        deepest = max(
            error.context,
            key=lambda e: (len(e.absolute_path), e.validator not in ("type", "const", "enum"), -len(e.context or ())),
        )
        return _leaves(deepest)
    return [error]


_MAX_QUOTED = 80  # characters of a user's value a message quotes


def _shorten(text: str) -> str:
    return text if len(text) <= 4 * _MAX_QUOTED else text[: 4 * _MAX_QUOTED - 3] + "..."


def _shown(value: object) -> str:
    """A value as a message quotes it: its repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def _describe(error: ValidationError, located: Located, experiment: str | None) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _allowed_keys(error)
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key)[:200], allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    f"unknown key {_shown(str(key))}" + (f" in {where}" if path else ""),
                    file=located.file,
                    line=located.key_line((*path, key)),
                    experiment=experiment,
                    check="unknown-key",
                    hint=hint,
                )
            )
        return out
    if error.validator == "required":
        message = f"{where}: {error.message}"
        check = "missing-key"
    elif error.validator in ("enum", "const"):
        options = error.validator_value if error.validator == "enum" else [error.validator_value]
        close = difflib.get_close_matches(str(error.instance)[:200], [str(o) for o in options], n=1, cutoff=0.6)
        message = (
            f"{where}: {_shorten(json.dumps(error.instance, ensure_ascii=False))} is not one of "
            f"{', '.join(map(str, options))}"
        )
        check = "bad-value"
        return [
            Diagnostic(
                Severity.ERROR,
                message,
                file=located.file,
                line=located.line(path),
                experiment=experiment,
                check=check,
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        ]
    elif error.validator == "type":
        message = f"{where}: expected {error.validator_value}, found {type(error.instance).__name__}"
        check = "wrong-type"
    elif error.validator == "maxLength" and isinstance(error.instance, str):
        message = f"{where}: {len(error.instance):,} characters long, at most {error.validator_value:,} allowed"
        check = "bad-value"
    elif error.validator == "pattern" and isinstance(error.schema, dict) and "x-pattern-means" in error.schema:
        message = f"{where}: must be {error.schema['x-pattern-means']}, found {_shown(error.instance)}"
        check = "bad-value"
    else:
        message = f"{where}: {_shorten(error.message)}"
        check = "bad-value"
    return [
        Diagnostic(
            Severity.ERROR, message, file=located.file, line=located.line(path), experiment=experiment, check=check
        )
    ]


def check(
    located: Located,
    schema: str,
    *,
    experiment: str | None = None,
    skip: Collection[str] = (),
    cache_dir: Path | None = None,
) -> list[Diagnostic]:
    """All schema violations of `located`, sorted by line; those inside a top-level key in `skip` are left out."""
    out: list[Diagnostic] = []
    seen: set[tuple[object, ...]] = set()
    for top in violations(located.data, schema, cache_dir=cache_dir):
        for leaf in _leaves(top):
            if leaf.absolute_path and leaf.absolute_path[0] in skip:
                continue
            for d in _describe(leaf, located, experiment):
                key = (d.line, d.message)
                if key not in seen:
                    seen.add(key)
                    out.append(d)
    return sorted(out, key=lambda d: (d.line or 0, d.message))
