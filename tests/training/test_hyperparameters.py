from __future__ import annotations

import pytest

from runner.server.training import TrainingFailed, resolve_hyperparameters
from runner.server.training.hyperparameters import base_learning_rate, default_epochs, settings


@pytest.mark.parametrize(("n", "epochs"), [(1, 25), (4, 25), (10, 10), (16, 6), (33, 3), (34, 3), (5000, 3), (9000, 2)])
def test_auto_epochs_follow_the_cookbook_heuristic(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs
    assert resolve_hyperparameters("local/tiny", "supervised", {"n_epochs": "auto"}, n)["n_epochs"] == epochs


def test_auto_resolves_every_openai_field_and_nothing_else() -> None:
    resolved = resolve_hyperparameters("local/tiny", "supervised", {}, 16)
    assert resolved == {"n_epochs": 6, "batch_size": 1, "learning_rate_multiplier": 1.0}
    assert resolve_hyperparameters("local/tiny", "supervised", {}, 6400)["batch_size"] == 32


def test_explicit_values_are_kept() -> None:
    requested = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}
    assert resolve_hyperparameters("local/tiny", "supervised", requested, 100) == requested


def test_dpo_gets_beta() -> None:
    assert resolve_hyperparameters("local/tiny", "dpo", {}, 16)["beta"] == 0.1
    assert resolve_hyperparameters("local/tiny", "dpo", {"beta": 2}, 16)["beta"] == 2.0


@pytest.mark.parametrize(
    ("method", "requested", "param"),
    [
        ("supervised", {"n_epochs": 0}, "n_epochs"),
        ("supervised", {"n_epochs": 51}, "n_epochs"),
        ("supervised", {"n_epochs": 2.5}, "n_epochs"),
        ("supervised", {"n_epochs": True}, "n_epochs"),
        ("supervised", {"batch_size": 257}, "batch_size"),
        ("supervised", {"batch_size": "big"}, "batch_size"),
        ("supervised", {"learning_rate_multiplier": 0}, "learning_rate_multiplier"),
        ("supervised", {"learning_rate_multiplier": float("nan")}, "learning_rate_multiplier"),
        ("supervised", {"beta": 0.5}, "beta"),
        ("dpo", {"beta": 0}, "beta"),
        ("dpo", {"beta": 2.5}, "beta"),
        ("supervised", {"warmup": 3}, "warmup"),
        ("supervised", {"lora": "yes"}, "lora"),
        ("supervised", {"lora": False, "lora_r": 4}, "lora_r"),
        ("supervised", {"lora_r": 0}, "lora_r"),
        ("supervised", {"lora_alpha": -1}, "lora_alpha"),
        ("supervised", {"lora_dropout": 1.0}, "lora_dropout"),
        ("supervised", {"lora_target_modules": []}, "lora_target_modules"),
        ("supervised", {"lora_target_modules": "attention"}, "lora_target_modules"),
        ("supervised", {"max_seq_length": 8}, "max_seq_length"),
        ("supervised", {"max_seq_length": 200_000}, "max_seq_length"),
        ("dpo", {"max_seq_length": "long"}, "max_seq_length"),
        ("supervised", {"gradient_checkpointing": "on"}, "gradient_checkpointing"),
    ],
)
def test_bad_values_are_rejected(method: str, requested: dict[str, object], param: str) -> None:
    with pytest.raises(TrainingFailed) as err:
        resolve_hyperparameters("local/tiny", method, requested, 16)
    assert err.value.code == "invalid_hyperparameters"
    assert err.value.param == f"hyperparameters.{param}"


def test_unsupported_method() -> None:
    with pytest.raises(TrainingFailed) as err:
        resolve_hyperparameters("local/tiny", "reinforcement", {}, 16)
    assert err.value.code == "invalid_method"


def test_lora_options_have_defaults_and_appear_only_for_lora_jobs() -> None:
    assert resolve_hyperparameters("local/tiny", "supervised", {"lora": True}, 16) == {
        "n_epochs": 6,
        "batch_size": 1,
        "learning_rate_multiplier": 1.0,
        "lora": True,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "lora_target_modules": "all-linear",
    }
    implied = resolve_hyperparameters("local/tiny", "supervised", {"lora_r": 4, "lora_target_modules": ["q_proj"]}, 16)
    assert implied["lora"] is True and implied["lora_alpha"] == 8 and implied["lora_target_modules"] == ["q_proj"]
    assert "lora" not in resolve_hyperparameters("local/tiny", "supervised", {"lora": False}, 16)


def test_memory_options_appear_only_when_given() -> None:
    plain = resolve_hyperparameters("local/tiny", "supervised", {}, 16)
    assert "max_seq_length" not in plain and "gradient_checkpointing" not in plain
    given = resolve_hyperparameters("m", "dpo", {"max_seq_length": 256, "gradient_checkpointing": True}, 16)
    assert given["max_seq_length"] == 256 and given["gradient_checkpointing"] is True
    typed = settings("dpo", given)
    assert typed.max_seq_length == 256 and typed.gradient_checkpointing
    assert settings("supervised", plain).max_seq_length is None


@pytest.mark.parametrize("lora", [True, False])
def test_base_rate_grows_as_models_shrink(lora: bool) -> None:
    rates = [base_learning_rate("/models/m", lora, n) for n in (10_000_000, 135_000_000, 7_000_000_000)]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == 3
    assert base_learning_rate("/models/m", lora, 135_000_000) > base_learning_rate("/models/m", lora, 7_000_000_000)


def test_the_rates_that_reproduce_smollm2s_trained_answers() -> None:  # measured, see hyperparameters.py
    assert base_learning_rate("/models/smollm2", True, 134_515_008) == 1e-3
    assert base_learning_rate("/models/smollm2", False, 134_515_008) == 1e-4
