"""Where models run and in which dtype: one rule (runtime.device, runtime.load_dtype) for training and chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.server.training.models import load_model
from runner.server.training.runtime import DEVICE_ENV, device, load_dtype


def test_the_cpu_always_computes_in_float32() -> None:
    import torch

    for declared in ("bfloat16", "float16", "float32", None):
        assert load_dtype(declared, "cpu") is torch.float32
    assert load_dtype("float16", "cuda") is torch.float16  # a GPU keeps what the config declares
    assert load_dtype(None, "cuda:0") is torch.float32


def test_the_device_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert device() == "cpu"
    monkeypatch.delenv(DEVICE_ENV)
    assert device() == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_bf16_model_loads_in_float32_on_the_cpu(
    hf_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    model = load_model(hf_model_dir)
    model.to(torch.bfloat16).save_pretrained(str(tmp_path))
    (tmp_path / "tokenizer.json").write_bytes((hf_model_dir / "tokenizer.json").read_bytes())
    assert '"bfloat16"' in (tmp_path / "config.json").read_text()
    reloaded = load_model(tmp_path)
    assert reloaded.dtype is torch.float32 and reloaded.device.type == "cpu"
