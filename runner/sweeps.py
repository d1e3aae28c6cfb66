"""Sweeps: a `matrix:` of dotted fields expands one spec into one experiment per combination of values.

    name: marv
    matrix:
      method.hyperparameters.n_epochs: [2, 4]
      seed: [1, 2]

gives marv-n_epochs-2-seed-1, marv-n_epochs-2-seed-2, marv-n_epochs-4-seed-1 and marv-n_epochs-4-seed-2: each its own
experiment with its own fingerprint. A variant's name is made of its values (not their positions), so adding a value
adds experiments and renames none.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.yamlsource import Path_

MAX_NAME = 64
MAX_VARIANTS = 256  # experiments one matrix may make
NOT_SWEPT = ("name", "matrix", "moved_from")  # what a matrix may not vary


@dataclass(frozen=True)
class Variant:
    name: str
    data: dict[str, Any]  # the spec with this combination's values set
    values: tuple[tuple[str, Any], ...]  # (dotted field, value), in the matrix's order
    lines: dict[Path_, int]  # each set value's path -> the line of its value in the matrix


def _token(value: Any) -> str:
    """A value as it shows in a name: as written when it is made of name characters; otherwise those characters and
    a short hash of the value, so that two values never share a name (`data/a.jsonl` -> `data_a.jsonl_1f3c2a`)."""
    text = value if isinstance(value, str) else json.dumps(value)
    clean = re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.")
    if clean == text:
        return clean
    return f"{clean}_{hashlib.sha256(text.encode()).hexdigest()[:6]}".lstrip("_")


def _labels(fields: list[str]) -> dict[str, str]:
    """Each field's short label in names: its last part, or the whole path where two fields end alike."""
    last = [f.rsplit(".", 1)[-1] for f in fields]
    return {f: (short if last.count(short) == 1 else _token(f)) for f, short in zip(fields, last, strict=True)}


def variant_name(base: str, values: tuple[tuple[str, Any], ...], labels: Mapping[str, str]) -> str:
    """`base-label-value-...`, at most 64 characters (a long one keeps its start and ends in a hash of the values)."""
    name = "-".join([base, *(f"{labels[f]}-{_token(v)}" for f, v in values)])
    if len(name) <= MAX_NAME:
        return name
    tag = hashlib.sha256(json.dumps([base, *values], sort_keys=True).encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - len(tag) - 1].rstrip('-_.')}-{tag}"


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for i, key in enumerate(path[:-1]):
        child = node.get(key)
        if key == "method" and i == 0 and (child is None or isinstance(child, str)):
            child = {"type": child or "supervised"}  # `method: dpo`, or none (supervised), with settings swept
        if not isinstance(child, dict):
            child = {}
        node[key] = child
        node = child
    node[path[-1]] = value


def expand(base: str, data: Mapping[str, Any], lines: Mapping[Path_, int]) -> list[Variant]:
    """One variant of `data` (the spec, defaults merged in) per combination of its `matrix` values."""
    matrix: Mapping[str, list[Any]] = data["matrix"]
    fields = list(matrix)
    labels = _labels(fields)
    out = []
    for combo in itertools.product(*(list(enumerate(matrix[f])) for f in fields)):
        values = tuple((f, v) for f, (_, v) in zip(fields, combo, strict=True))
        variant = copy.deepcopy({k: v for k, v in data.items() if k != "matrix"})
        set_lines: dict[Path_, int] = {}
        for f, (i, v) in zip(fields, combo, strict=True):
            path = f.split(".")
            _set(variant, path, v)
            line = lines.get(("matrix", f, i), lines.get(("matrix", f), 1))
            for depth in range(1, len(path) + 1):
                set_lines.setdefault(tuple(path[:depth]), line)
        out.append(Variant(variant_name(base, values, labels), variant, values, set_lines))
    return out
