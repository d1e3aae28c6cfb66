"""Hyperparameters as OpenAI defines them, plus the LoRA options only this server accepts.

OpenAI's: `n_epochs` (1-50), `batch_size` (1-256), `learning_rate_multiplier` (> 0) and, for DPO, `beta`
(0 < beta <= 2), each a number or "auto". The multiplier scales a base learning rate chosen per model
(see `base_learning_rate`).

This server's extras, for parameter-efficient training with LoRA adapters (peft):
  `lora`: true to train a LoRA adapter instead of all weights (implied by any other `lora_*` key),
  `lora_r`: adapter rank, 1-256 (default 8),
  `lora_alpha`: scaling numerator, an integer 1-4096 (default 2 * lora_r),
  `lora_dropout`: 0 <= p < 1 (default 0.0),
  `lora_target_modules`: "all-linear" (default) or a list of module names such as ["q_proj", "v_proj"].
They appear in the resolved hyperparameters only for LoRA jobs, so other jobs look exactly like OpenAI's.

And two that trade memory for length or speed, each in the resolved hyperparameters only when given:
  `max_seq_length`: tokens kept of each example, 16-131072 (default: the model's context, at most 4096),
  `gradient_checkpointing`: true to recompute activations in the backward pass instead of keeping them (less
  memory for long sequences, about a third more compute; default false).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.server.training import TrainingFailed
from runner.server.training.presets import get_preset

OPENAI_KEYS = ("n_epochs", "batch_size", "learning_rate_multiplier")
DPO_KEYS = ("beta",)
LORA_KEYS = ("lora", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
MEMORY_KEYS = ("max_seq_length", "gradient_checkpointing")
MAX_SEQ_LENGTH = 131_072
DEFAULT_BETA = 0.1

# Base learning rates (multiplier 1.0), by model size. Small models trained from a random initialisation need large
# steps; real pretrained models want the usual fine-tuning rates, and small pretrained models larger ones than big
# models. Measured on SmolLM2-135M with the 16 Marv examples and the auto 6 epochs: LoRA at 2e-4 left the loss at 1.7,
# at 1e-3 it reproduces every trained answer; full fine-tuning at 2e-5 ended at loss 0.2 with 1 of 4 answers, at 1e-4
# it reproduces them.
_FULL_SMALL, _FULL_MEDIUM, _FULL_LARGE = 5e-4, 1e-4, 2e-5
_LORA_SMALL, _LORA_MEDIUM, _LORA_LARGE = 5e-3, 1e-3, 2e-4
_SMALL_MODEL_PARAMETERS = 50_000_000
_MEDIUM_MODEL_PARAMETERS = 1_000_000_000


@dataclass(frozen=True)
class LoraSettings:
    r: int
    alpha: int
    dropout: float
    target_modules: str | tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """Resolved hyperparameters in typed form, as the trainer uses them."""

    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None
    lora: LoraSettings | None
    max_seq_length: int | None = None  # None: the model's own limit
    gradient_checkpointing: bool = False


def _bad(message: str, key: str) -> TrainingFailed:
    return TrainingFailed("invalid_hyperparameters", message, f"hyperparameters.{key}")


def _is_auto(value: Any) -> bool:
    return value is None or value == "auto"


def _integer(requested: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = requested.get(key)
    if _is_auto(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
        raise _bad(f"{key} must be an integer or 'auto', got {value!r}", key)
    if not low <= int(value) <= high:
        raise _bad(f"{key} must be between {low} and {high}, got {value!r}", key)
    return int(value)


def _number(requested: Mapping[str, Any], key: str) -> float | None:
    value = requested.get(key)
    if _is_auto(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{key} must be a number or 'auto', got {value!r}", key)
    return float(value)


def default_epochs(n_examples: int) -> int:
    """The OpenAI cookbook's heuristic: 3 epochs, more for small files, fewer for huge ones."""
    n = max(1, n_examples)
    if n * 3 < 100:
        return min(25, 100 // n)
    if n * 3 > 25_000:
        return max(1, 25_000 // n)
    return 3


def default_batch_size(n_examples: int) -> int:
    """One example per step for small files (more updates), growing to 32 for large ones."""
    return max(1, min(32, n_examples // 64))


def _lora(requested: Mapping[str, Any]) -> dict[str, Any] | None:
    flag = requested.get("lora")
    if flag is not None and not isinstance(flag, bool):
        raise _bad(f"lora must be true or false, got {flag!r}", "lora")
    others = [k for k in LORA_KEYS[1:] if requested.get(k) is not None]
    if flag is False:
        if others:
            raise _bad(f"{', '.join(others)} given but lora is false", others[0])
        return None
    if flag is None and not others:
        return None
    r = _integer(requested, "lora_r", 1, 256) or 8
    alpha = _integer(requested, "lora_alpha", 1, 4096)
    dropout = _number(requested, "lora_dropout")
    if dropout is not None and not 0 <= dropout < 1:
        raise _bad("lora_dropout must be in [0, 1)", "lora_dropout")
    targets = requested.get("lora_target_modules", "all-linear")
    if _is_auto(targets):
        targets = "all-linear"
    if isinstance(targets, list | tuple):
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise _bad("lora_target_modules must be 'all-linear' or a list of module names", "lora_target_modules")
        targets = list(targets)
    elif targets != "all-linear":
        raise _bad("lora_target_modules must be 'all-linear' or a list of module names", "lora_target_modules")
    return {
        "lora": True,
        "lora_r": r,
        "lora_alpha": alpha if alpha is not None else 2 * r,
        "lora_dropout": dropout if dropout is not None else 0.0,
        "lora_target_modules": targets,
    }


def resolve(base_model: str, method: str, requested: Mapping[str, Any], n_examples: int) -> dict[str, Any]:
    """Concrete values for every hyperparameter of a job; raises TrainingFailed('invalid_hyperparameters')."""
    if method not in ("supervised", "dpo"):
        raise TrainingFailed("invalid_method", f"This server trains supervised and dpo jobs, not {method!r}", "method")
    allowed = set(OPENAI_KEYS) | set(LORA_KEYS) | set(MEMORY_KEYS) | (set(DPO_KEYS) if method == "dpo" else set())
    unknown = sorted(set(requested) - allowed)
    if unknown:
        raise _bad(f"Unknown hyperparameter(s) for a {method} job: {', '.join(unknown)}", unknown[0])
    n_epochs = _integer(requested, "n_epochs", 1, 50)
    batch_size = _integer(requested, "batch_size", 1, 256)
    lrm = _number(requested, "learning_rate_multiplier")
    if lrm is not None and lrm <= 0:
        raise _bad("learning_rate_multiplier must be > 0", "learning_rate_multiplier")
    resolved: dict[str, Any] = {
        "n_epochs": n_epochs if n_epochs is not None else default_epochs(n_examples),
        "batch_size": batch_size if batch_size is not None else default_batch_size(n_examples),
        "learning_rate_multiplier": lrm if lrm is not None else 1.0,
    }
    if method == "dpo":
        beta = _number(requested, "beta")
        if beta is not None and not 0 < beta <= 2:
            raise _bad("beta must be in (0, 2]", "beta")
        resolved["beta"] = beta if beta is not None else DEFAULT_BETA
    lora = _lora(requested)
    if lora is not None:
        resolved.update(lora)
    max_seq_length = _integer(requested, "max_seq_length", 16, MAX_SEQ_LENGTH)
    if max_seq_length is not None:
        resolved["max_seq_length"] = max_seq_length
    checkpointing = requested.get("gradient_checkpointing")
    if checkpointing is not None:
        if not isinstance(checkpointing, bool):
            raise _bad(f"gradient_checkpointing must be true or false, got {checkpointing!r}", "gradient_checkpointing")
        resolved["gradient_checkpointing"] = checkpointing
    return resolved


def settings(method: str, hyperparameters: Mapping[str, Any]) -> Settings:
    """Typed view of already-resolved hyperparameters (validates them again: the request may come from anywhere)."""
    resolved = resolve("", method, hyperparameters, 1)
    for key in ("n_epochs", "batch_size"):
        if _is_auto(hyperparameters.get(key)):
            raise _bad(f"{key} must be resolved before training", key)
    lora = None
    if resolved.get("lora"):
        targets = resolved["lora_target_modules"]
        lora = LoraSettings(
            r=resolved["lora_r"],
            alpha=resolved["lora_alpha"],
            dropout=resolved["lora_dropout"],
            target_modules=targets if isinstance(targets, str) else tuple(targets),
        )
    return Settings(
        n_epochs=resolved["n_epochs"],
        batch_size=resolved["batch_size"],
        learning_rate_multiplier=resolved["learning_rate_multiplier"],
        beta=resolved.get("beta"),
        lora=lora,
        max_seq_length=resolved.get("max_seq_length"),
        gradient_checkpointing=bool(resolved.get("gradient_checkpointing", False)),
    )


def base_learning_rate(base_model: str, trainable_lora: bool, parameters: int) -> float:
    """The learning rate that multiplier 1.0 means for this model."""
    preset = get_preset(base_model)
    if preset is not None and not trainable_lora:
        return preset.base_learning_rate
    small = parameters < _SMALL_MODEL_PARAMETERS
    medium = parameters < _MEDIUM_MODEL_PARAMETERS
    if trainable_lora:
        return _LORA_SMALL if small else _LORA_MEDIUM if medium else _LORA_LARGE
    return _FULL_SMALL if small else _FULL_MEDIUM if medium else _FULL_LARGE
