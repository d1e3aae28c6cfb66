"""Training prices, the default-epochs heuristic, and the cost of a job before and after it runs.

Prices are OpenAI's published training prices in USD per 1M trained tokens. A workspace may override or extend them
(`prices` in ftrun.yaml, model name → USD per 1M tokens); the built-in server is free. Reinforcement fine-tuning is
billed per hour of training, so its dollar estimate is unknown (None) and a note says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from runner.datasets.records import TokenStats
from runner.datasets.tokens import base_model, model_alias

# USD per 1M training tokens, by snapshot and by alias.
TRAINING_PRICE_PER_1M: Mapping[str, float] = {
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-mini": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-4.1-nano": 1.50,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4o": 25.00,
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-4o-mini": 3.00,
    "gpt-3.5-turbo-0125": 8.00,
    "gpt-3.5-turbo-1106": 8.00,
    "gpt-3.5-turbo-0613": 8.00,
    "gpt-3.5-turbo": 8.00,
    "davinci-002": 6.00,
    "babbage-002": 0.40,
}

# Reinforcement fine-tuning: USD per hour of core training-loop time (o4-mini), graders billed separately.
RFT_PRICE_PER_HOUR: Mapping[str, float] = {"o4-mini-2025-04-16": 100.0, "o4-mini": 100.0}

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

Epochs = int | Literal["auto"] | None


def default_epochs(n_examples: int) -> int:
    """OpenAI's default n_epochs for a training file of `n_examples` (the cookbook data-prep notebook's heuristic)."""
    n = TARGET_EPOCHS
    if n_examples <= 0:
        return n
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n


def resolve_epochs(n_epochs: Epochs, n_examples: int) -> int:
    if n_epochs is None or n_epochs == "auto":
        return default_epochs(n_examples)
    return int(n_epochs)


def price_per_1m(model: str, *, prices: Mapping[str, float] = {}) -> float | None:  # noqa: B006 (read-only)
    """Training USD per 1M tokens for a model, fine-tuned `ft:` names priced as their base; None when unknown.

    Each table is searched by the exact name, the base snapshot, then the alias without a date; the workspace's
    `prices` first, so an override of an alias (`gpt-4.1: 10`) also covers its snapshots and fine-tuned models.
    """
    names = tuple(dict.fromkeys((model, base_model(model), model_alias(model))))
    for table in (prices, TRAINING_PRICE_PER_1M):
        for name in names:
            if name in table:
                return float(table[name])
    return None


@dataclass(frozen=True)
class CostEstimate:
    epochs: int
    billed_tokens: int  # Σ min(example tokens, context limit) × epochs
    usd: float | None  # None when no price is known or the method is not billed per token
    price_per_1m: float | None = None
    note: str | None = None


def estimate_cost(
    model: str,
    method: str,
    n_epochs: Epochs,
    stats: TokenStats,
    *,
    prices: Mapping[str, float] = {},  # noqa: B006 (read-only)
    free: bool = False,
) -> CostEstimate:
    """What training on `stats` would bill: tokens per epoch (capped at the context limit) × resolved epochs."""
    epochs = resolve_epochs(n_epochs, stats.examples)
    billed = stats.billed_tokens_per_epoch * epochs
    if free:
        return CostEstimate(epochs, billed, 0.0, 0.0, "the built-in server does not charge")
    if method == "reinforcement":
        hourly = RFT_PRICE_PER_HOUR.get(base_model(model)) or RFT_PRICE_PER_HOUR.get(model_alias(model))
        rate = f" (${hourly:g} per hour)" if hourly else ""
        return CostEstimate(
            epochs, billed, None, None, f"reinforcement fine-tuning is billed per hour of training{rate}, not per token"
        )
    price = price_per_1m(model, prices=prices)
    if price is None:
        return CostEstimate(epochs, billed, None, None, f"no training price known for {model}; set one in ftrun.yaml")
    return CostEstimate(epochs, billed, billed * price / 1_000_000, price)


def actual_cost(
    model: str,
    trained_tokens: int | None,
    *,
    prices: Mapping[str, float] = {},  # noqa: B006 (read-only)
    free: bool = False,
) -> float | None:
    """The cost of a finished job from its `trained_tokens` (the billed figure); None when unknown."""
    if trained_tokens is None:
        return None
    if free:
        return 0.0
    price = price_per_1m(model, prices=prices)
    return None if price is None else trained_tokens * price / 1_000_000
