"""Hypothesis strategies for request inputs, drawn from OpenAI's OpenAPI spec (the same file the contract tests use).

Values mostly follow the operation's schema (so requests get past the first checks and reach deeper code), and at
every level sometimes turn into any JSON value instead, the malformed inputs real clients send. Not a full JSON Schema
generator: enough of it (refs, objects, arrays, enums, consts, scalars with bounds, anyOf/oneOf/allOf) for the
operations this server implements.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml
from hypothesis import strategies as st
from server_openapi import SPEC_PATH

Names = Mapping[str, st.SearchStrategy[Any]]

MAX_DEPTH = 5
WRONG_ONE_IN = 5  # at each value, one draw in this many ignores the schema

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["auto", "", "supervised", "dpo", "user", "assistant", "fine-tune", "local/tiny", "null"]),
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as f:
        loaded = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    assert isinstance(loaded, dict)
    return loaded


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(path: str, method: str) -> dict[str, Any]:
    op = spec()["paths"][path][method]
    assert isinstance(op, dict)
    return op


def request_schema(path: str, method: str, content_type: str) -> dict[str, Any]:
    schema = resolve(operation(path, method)["requestBody"]["content"][content_type]["schema"])
    assert isinstance(schema, dict)
    return schema


def query_parameters(path: str, method: str) -> dict[str, dict[str, Any]]:
    """The operation's query parameters, by name, with their schemas."""
    out = {}
    for p in operation(path, method).get("parameters", []):
        p = resolve(p)
        if p.get("in") == "query":
            out[p["name"]] = resolve(p.get("schema", {}))
    return out


def _merged(members: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for m in members:
        m = resolve(m)
        if not isinstance(m, dict):
            continue
        if m.get("type") not in (None, "object") or ("properties" not in m and "allOf" not in m):
            return m  # not an object composition: take the first concrete member
        if "allOf" in m:
            m = _merged(m["allOf"])
        merged["properties"].update(m.get("properties", {}))
        merged["required"] += m.get("required", [])
    return merged


def _valid(schema: Any, depth: int, names: Names) -> st.SearchStrategy[Any]:
    schema = resolve(schema)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return SCALARS
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(m, depth + 1, names) for m in schema[key]])
    if "allOf" in schema:
        return _valid(_merged(schema["allOf"]), depth, names)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_valid({**schema, "type": k}, depth, names) for k in kind])
    nullable = st.none() if schema.get("nullable") else st.nothing()
    if kind == "object" or "properties" in schema:
        return _object(schema, depth, names) | nullable
    if kind == "array":
        items = from_schema(schema.get("items", {}), depth + 1, names)
        return st.lists(items, min_size=0, max_size=min(int(schema.get("maxItems", 3)), 3)) | nullable
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum")) | nullable
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False) | nullable
    if kind == "boolean":
        return st.booleans() | nullable
    if kind == "string":
        shortest = min(int(schema.get("minLength", 0)), 20)
        return st.text(min_size=shortest, max_size=max(shortest, min(int(schema.get("maxLength", 20)), 20))) | nullable
    return ANY_JSON


def _object(schema: dict[str, Any], depth: int, names: Names) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    optional = {k: v for k, v in properties.items() if k not in required}

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        def field(k: str, sub: Any) -> Any:
            if k in names and draw(st.booleans()):
                return draw(names[k])
            return draw(from_schema(sub, depth + 1, names))

        out = {k: field(k, properties[k]) for k in required if draw(st.integers(0, 9)) > 0}  # a required one missing
        if optional:
            for k in draw(st.lists(st.sampled_from(sorted(optional)), max_size=6, unique=True)):
                out[k] = field(k, optional[k])
        if draw(st.integers(0, 9)) == 0:
            out[draw(st.text(max_size=8))] = draw(ANY_JSON)
        return out

    return build()


_built: dict[tuple[int, int, int], tuple[Any, Names, st.SearchStrategy[Any]]] = {}
_NO_NAMES: Names = {}


def from_schema(schema: Any, depth: int = 0, names: Names | None = None) -> st.SearchStrategy[Any]:
    """A value that mostly follows `schema`; one time in `WRONG_ONE_IN`, at any level, any JSON value instead.
    `names`: for properties of these names, half the time a value of this strategy instead (real ids, say)."""
    names = _NO_NAMES if names is None else names
    key = (id(schema), depth, id(names))  # the entry keeps `schema` and `names` alive, so their ids stay theirs
    if key not in _built:
        _built[key] = (schema, names, _from_schema(schema, depth, names))
    return _built[key][2]


def _from_schema(schema: Any, depth: int, names: Names) -> st.SearchStrategy[Any]:

    @st.composite
    def value(draw: st.DrawFn) -> Any:
        if draw(st.integers(0, WRONG_ONE_IN - 1)) == 0:
            return draw(ANY_JSON)
        return draw(_valid(schema, depth, names))

    return value()


def query_strategy(params: dict[str, dict[str, Any]]) -> st.SearchStrategy[dict[str, str]]:
    """Query strings: the spec's parameters with values that are mostly of their type, plus stray parameters."""

    def text_of(schema: dict[str, Any]) -> st.SearchStrategy[str]:
        typed = _valid(schema, MAX_DEPTH - 1, {}).map(lambda v: str(v).lower() if isinstance(v, bool) else str(v))
        return typed | st.text(max_size=10) | st.sampled_from(["-1", "0", "1e3", "null", "999999999999999999999"])

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in draw(st.lists(st.sampled_from(sorted(params)), unique=True)) if params else []:
            out[name] = draw(text_of(params[name]))
        if "metadata" in params:
            for key in draw(st.lists(st.text(min_size=1, max_size=6), max_size=2)):
                out[f"metadata[{key}]"] = draw(st.text(max_size=6))
        if draw(st.integers(0, 4)) == 0:
            out[draw(st.text(min_size=1, max_size=6))] = draw(st.text(max_size=6))
        return out

    return build()
