"""Default epochs, training prices and cost estimates."""

from __future__ import annotations

import pytest

from runner.datasets import TokenStats
from runner.datasets.pricing import actual_cost, default_epochs, estimate_cost, price_per_1m


def stats(examples: int, billed_per_epoch: int) -> TokenStats:
    return TokenStats(examples, billed_per_epoch, 0, 0, 0, 0, 0, 0, billed_per_epoch, "o200k_base", 65_536)


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(1, 25), (3, 25), (4, 25), (5, 20), (10, 10), (33, 3), (34, 3), (100, 3), (8_333, 3), (8_334, 2), (30_000, 1)],
)
def test_default_epochs_heuristic(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4.1-2025-04-14", 25.0),
        ("gpt-4.1-mini-2025-04-14", 5.0),
        ("gpt-4.1-nano", 1.5),
        ("ft:gpt-4o-mini-2024-07-18:org::abc", 3.0),
        ("gpt-4o-2024-08-06", 25.0),
        ("gpt-3.5-turbo-1106", 8.0),
        ("babbage-002", 0.4),
        ("local/tiny", None),
    ],
)
def test_price_table(model: str, price: float | None) -> None:
    assert price_per_1m(model) == price


def test_estimate_with_auto_epochs() -> None:
    est = estimate_cost("gpt-4.1-mini-2025-04-14", "supervised", "auto", stats(10, 20_000))
    assert (est.epochs, est.billed_tokens) == (10, 200_000)
    assert est.usd == pytest.approx(1.0)  # 200k tokens at $5 per 1M


def test_explicit_epochs_and_workspace_price_override() -> None:
    est = estimate_cost("ft:gpt-4.1-2025-04-14:o::x", "dpo", 2, stats(50, 1_000_000), prices={"gpt-4.1": 10.0})
    assert (est.epochs, est.billed_tokens, est.usd) == (2, 2_000_000, pytest.approx(20.0))


def test_unknown_model_free_server_and_rft() -> None:
    s = stats(100, 1_000)
    unknown = estimate_cost("local/tiny", "supervised", None, s)
    assert unknown.usd is None and unknown.note and "ftrun.yaml" in unknown.note
    assert estimate_cost("local/tiny", "supervised", None, s, free=True).usd == 0.0
    rft = estimate_cost("o4-mini-2025-04-16", "reinforcement", "auto", s)
    assert rft.usd is None and rft.billed_tokens == 3_000 and "per hour" in (rft.note or "")


def test_actual_cost() -> None:
    assert actual_cost("gpt-4o-mini-2024-07-18", 4_480) == pytest.approx(4_480 * 3 / 1e6)
    assert actual_cost("gpt-4o-mini-2024-07-18", None) is None
    assert actual_cost("local/tiny", 1_000) is None
    assert actual_cost("local/tiny", 1_000, free=True) == 0.0
    assert actual_cost("custom-model", 1_000_000, prices={"custom-model": 2.0}) == pytest.approx(2.0)
