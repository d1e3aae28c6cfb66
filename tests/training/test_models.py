from __future__ import annotations

from pathlib import Path

import pytest

from runner.server.training import TrainingFailed, base_models
from runner.server.training.models import locate


def test_presets_are_listed() -> None:
    assert "local/tiny" in base_models()


@pytest.mark.parametrize("name", ["nobody/no-such-model-here", "/nonexistent/model/dir"])
def test_missing_model_is_model_not_found_with_a_way_out(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingFailed) as err:
        locate(name)
    assert err.value.code == "model_not_found"
    assert "download" in err.value.message and "HF" in err.value.message


def test_a_directory_without_a_model_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(TrainingFailed) as err:
        locate(str(tmp_path))
    assert err.value.code == "model_not_found"
