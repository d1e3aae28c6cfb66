from __future__ import annotations

from pathlib import Path

import pytest

from runner.server.training import TrainingFailed, base_models
from runner.server.training.models import hub_cache_dir, locate
from runner.server.training.packaged_models import installed


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


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"XDG_CACHE_HOME": "/x/cache"},
        {"HF_HOME": "/x/hf", "XDG_CACHE_HOME": "/x/cache"},
        {"HUGGINGFACE_HUB_CACHE": "/x/old", "HF_HOME": "/x/hf"},
        {"HF_HUB_CACHE": "/x/hub", "HUGGINGFACE_HUB_CACHE": "/x/old", "HF_HOME": "/x/hf"},
        {"HF_HOME": "~/hf"},
    ],
)
def test_the_hub_cache_is_where_huggingface_hub_looks(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """ftrun finds the cache without importing huggingface_hub; both must agree on every way it can be set."""
    import importlib

    from huggingface_hub import constants

    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours = hub_cache_dir()
    try:
        theirs = importlib.reload(constants).HF_HUB_CACHE
    finally:
        monkeypatch.undo()
        importlib.reload(constants)
    assert ours == theirs


def test_a_directory_without_a_model_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(TrainingFailed) as err:
        locate(str(tmp_path))
    assert err.value.code == "model_not_found"


def _cache_model(cache: Path, repo_id: str, source: Path) -> None:
    """Lay out `source` as the HF hub cache stores a downloaded repository."""
    import shutil

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(source, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)


@pytest.mark.training
def test_hub_id_from_the_local_cache(hf_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training_support import run_job

    cache = tmp_path / "hub"
    _cache_model(cache, "acme/tiny-chat", hf_model_dir)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert base_models() == ["local/tiny", *installed(), "acme/tiny-chat"]  # presets, packaged models, the cache
    source = locate("acme/tiny-chat")
    assert source.kind == "directory" and source.path is not None and (source.path / "config.json").is_file()
    result, hooks = run_job(tmp_path / "job", base_model="acme/tiny-chat", requested={"n_epochs": 1, "batch_size": 4})
    assert result.status == "succeeded" and len(hooks.metrics_log) == 4
