"""OpenAI's OpenAPI spec as JSON Schema validators, made lenient in the documented ways, in one place.

The spec (OpenAPI 3.1) still uses 3.0 keywords that 3.1 validators misread: `nullable` (ignored) is rewritten into
`type: [..., "null"]` or an `anyOf` with null, and the boolean `exclusiveMinimum: true` into 3.1's number form.
The real API returns values the spec does not allow; those are the `DEVIATIONS` below, and nothing else is relaxed.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai-openapi"

_NULL = {"type": "null"}

# Real-API behaviour the spec rejects (reference/openai-api.md §1.3-§1.5), as (schema, property) -> extra allowed
# alternative. Each one is something the real API was observed to return.
DEVIATIONS: dict[tuple[str, str], dict[str, Any]] = {
    # `error` on jobs that have not failed is an empty object, not null.
    ("FineTuningJob", "error"): {"type": "object", "maxProperties": 0},
    # `paused` is missing from the status enum, though pause returns it.
    ("FineTuningJob", "status"): {"const": "paused"},
    # top-level `hyperparameters` is null for DPO and reinforcement jobs.
    ("FineTuningJob", "hyperparameters"): _NULL,
    # event `data` is null for plain message events in recorded output.
    ("FineTuningJobEvent", "data"): _NULL,
    # files: `status_details` is null since late 2024, and `expires_at` is null for files that never expire.
    ("OpenAIFile", "status_details"): _NULL,
    ("OpenAIFile", "expires_at"): _NULL,
}


def _lift_nullable_from_all_of(node: Any) -> None:
    if isinstance(node, dict):
        members = node.get("allOf")
        if isinstance(members, list) and any(isinstance(m, dict) and m.get("nullable") for m in members):
            for m in members:
                if isinstance(m, dict):
                    m.pop("nullable", None)
            node["nullable"] = True
        for v in node.values():
            _lift_nullable_from_all_of(v)
    elif isinstance(node, list):
        for v in node:
            _lift_nullable_from_all_of(v)


def _rewrite_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rewrite_nullable(v) for k, v in node.items()}
    # 3.0's boolean `exclusiveMinimum/Maximum: true` beside `minimum/maximum` is a number bound in 3.1
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if out.get(exclusive) is True and bound in out:
            out[exclusive] = out.pop(bound)
        elif out.get(exclusive) is False:
            del out[exclusive]
    if out.pop("nullable", False) is not True:
        return out
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, _NULL]}


def lenient(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    _lift_nullable_from_all_of(spec)
    spec = _rewrite_nullable(spec)
    schemas = spec["components"]["schemas"]
    for (schema, prop), alternative in DEVIATIONS.items():
        original = schemas[schema]["properties"][prop]
        schemas[schema]["properties"][prop] = {"anyOf": [original, alternative]}
    return spec


@cache
def _registry() -> Registry:
    with SPEC_PATH.open("rb") as f:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    resource = Resource.from_contents(lenient(spec), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=_registry()
    )


def errors_for(schema_name: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in validator(schema_name).iter_errors(instance)
    ]
