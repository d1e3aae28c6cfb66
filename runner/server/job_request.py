"""Validation of `POST /v1/fine_tuning/jobs` bodies with OpenAI's rules, into a normalised request."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.server.errors import invalid
from runner.server.training.hyperparameters import LORA_KEYS, MEMORY_KEYS

MAX_SUFFIX = 64
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_INTEGRATIONS = 5
MAX_SEED = 2_147_483_647

_KNOWN_FIELDS = {
    "model",
    "training_file",
    "validation_file",
    "suffix",
    "seed",
    "hyperparameters",
    "method",
    "integrations",
    "metadata",
}
_COMMON_HYPERPARAMETERS = ("batch_size", "learning_rate_multiplier", "n_epochs")
# This server's own extras (LoRA, sequence length, gradient checkpointing), passed through to the trainer, which
# validates them when the job starts (a bad value fails the job with `invalid_hyperparameters`). They appear only
# when a request sets them.
SERVER_EXTRA_HYPERPARAMETERS = (*LORA_KEYS, *MEMORY_KEYS)
_METHOD_HYPERPARAMETERS = {
    "supervised": _COMMON_HYPERPARAMETERS,
    "dpo": (*_COMMON_HYPERPARAMETERS, "beta"),
}


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int | None
    method: dict[str, Any]  # {"type": ..., <type>: {"hyperparameters": {...}}}, every hyperparameter present
    metadata: dict[str, str] | None
    integrations: list[dict[str, Any]]


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return "a string"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_hyperparameter(name: str, value: Any, param: str) -> None:
    if value == "auto":
        return
    if name == "batch_size":
        ok = _is_int(value) and 1 <= value <= 256
        rule = "'auto' or an integer between 1 and 256"
    elif name == "n_epochs":
        ok = _is_int(value) and 1 <= value <= 50
        rule = "'auto' or an integer between 1 and 50"
    elif name == "learning_rate_multiplier":
        ok = _is_number(value) and value > 0
        rule = "'auto' or a number greater than 0"
    else:  # beta
        ok = _is_number(value) and 0 < value <= 2
        rule = "'auto' or a number greater than 0 and at most 2"
    if not ok:
        raise invalid(f"Invalid value for '{param}': {value!r}; expected {rule}.", param=param)


def _hyperparameters(raw: Any, allowed: tuple[str, ...], param: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise invalid(f"'{param}' must be an object.", param=param)
    unknown = sorted(set(raw) - set(allowed) - set(SERVER_EXTRA_HYPERPARAMETERS))
    if unknown:
        raise invalid(f"Unknown hyperparameter '{unknown[0]}' in '{param}'.", param=f"{param}.{unknown[0]}")
    out: dict[str, Any] = {}
    for name in allowed:
        value = raw.get(name, "auto")
        _check_hyperparameter(name, value, f"{param}.{name}")
        out[name] = value
    out.update((k, copy.deepcopy(raw[k])) for k in SERVER_EXTRA_HYPERPARAMETERS if k in raw)
    return out


def _method(body: Mapping[str, Any]) -> dict[str, Any]:
    legacy = body.get("hyperparameters")
    method = body.get("method")
    if method is None:
        hp = _hyperparameters(legacy, _COMMON_HYPERPARAMETERS, "hyperparameters")
        return {"type": "supervised", "supervised": {"hyperparameters": hp}}
    if not isinstance(method, Mapping):
        raise invalid("'method' must be an object.", param="method")
    kind = method.get("type")
    if not isinstance(kind, str):
        raise invalid(
            f"Invalid type for 'method.type': expected a string ('supervised', 'dpo' or 'reinforcement'), got"
            f" {_json_type(kind)}.",
            param="method.type",
        )
    if kind == "reinforcement":
        raise invalid(
            "Reinforcement fine-tuning is not supported by this server; use 'supervised' or 'dpo'.",
            param="method.type",
        )
    if kind not in _METHOD_HYPERPARAMETERS:
        raise invalid(
            f"Invalid value for 'method.type': {kind!r}; expected 'supervised', 'dpo' or 'reinforcement'.",
            param="method.type",
        )
    section = method.get(kind) or {}
    if not isinstance(section, Mapping):
        raise invalid(f"'method.{kind}' must be an object.", param=f"method.{kind}")
    raw_hp = section.get("hyperparameters")
    if legacy is not None:
        if not isinstance(legacy, Mapping):
            raise invalid("'hyperparameters' must be an object.", param="hyperparameters")
        if kind != "supervised":
            raise invalid("'hyperparameters' is only allowed with the supervised method.", param="hyperparameters")
        if raw_hp is not None and (not isinstance(raw_hp, Mapping) or dict(raw_hp) != dict(legacy)):
            raise invalid(
                "Specify hyperparameters either in 'method' or in the deprecated 'hyperparameters', not both.",
                param="hyperparameters",
            )
        raw_hp = legacy
    hp = _hyperparameters(raw_hp, _METHOD_HYPERPARAMETERS[kind], f"method.{kind}.hyperparameters")
    return {"type": kind, kind: {"hyperparameters": hp}}


def _metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise invalid("'metadata' must be an object of string keys and string values.", param="metadata")
    if len(raw) > MAX_METADATA_PAIRS:
        raise invalid(
            f"Invalid 'metadata': too many properties. Expected at most {MAX_METADATA_PAIRS}, but got {len(raw)}.",
            param="metadata",
        )
    for key, value in raw.items():
        if len(key) > MAX_METADATA_KEY:
            raise invalid(
                f"Invalid 'metadata': key '{key[:20]}…' is longer than {MAX_METADATA_KEY} characters.",
                param="metadata",
            )
        if not isinstance(value, str):
            raise invalid(f"Invalid 'metadata': the value of '{key}' must be a string.", param="metadata")
        if len(value) > MAX_METADATA_VALUE:
            raise invalid(
                f"Invalid 'metadata': the value of '{key}' is longer than {MAX_METADATA_VALUE} characters.",
                param="metadata",
            )
    return dict(raw)


def _integrations(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("'integrations' must be an array.", param="integrations")
    if len(raw) > MAX_INTEGRATIONS:
        raise invalid(f"At most {MAX_INTEGRATIONS} integrations are allowed.", param="integrations")
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("type") != "wandb":
            raise invalid(f"Invalid value for 'integrations[{i}].type'; expected 'wandb'.", param="integrations")
        wandb = item.get("wandb")
        if not isinstance(wandb, Mapping) or not isinstance(wandb.get("project"), str):
            raise invalid(f"'integrations[{i}].wandb.project' is required.", param="integrations")
    return copy.deepcopy(raw)


def parse_job_request(body: Any) -> JobRequest:
    if not isinstance(body, Mapping):
        raise invalid("The request body must be a JSON object.")
    unknown = sorted(set(body) - _KNOWN_FIELDS)
    if unknown:
        raise invalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    for name in ("model", "training_file"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise invalid(f"Missing required parameter: '{name}'.", param=name)
    validation_file = body.get("validation_file")
    if validation_file is not None and not isinstance(validation_file, str):
        raise invalid("'validation_file' must be a string.", param="validation_file")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= MAX_SUFFIX):
        raise invalid(f"Invalid 'suffix': expected a string of 1 to {MAX_SUFFIX} characters.", param="suffix")
    seed = body.get("seed")
    if seed is not None and not (_is_int(seed) and 0 <= seed <= MAX_SEED):
        raise invalid(f"Invalid 'seed': expected an integer between 0 and {MAX_SEED}.", param="seed")
    return JobRequest(
        model=body["model"],
        training_file=body["training_file"],
        validation_file=validation_file,
        suffix=suffix,
        seed=seed,
        method=_method(body),
        metadata=_metadata(body.get("metadata")),
        integrations=_integrations(body.get("integrations")),
    )
