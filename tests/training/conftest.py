from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # training_support.py

from training_support import MARV, RecordingHooks, build_hf_model_dir, read_jsonl, run_job  # noqa: E402

from runner.server.training import TrainingResult  # noqa: E402


@pytest.fixture(scope="session")
def tiny_sft(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingResult, RecordingHooks]:
    """The tiny preset fine-tuned on the Marv examples with auto hyperparameters (shared: training takes seconds)."""
    return run_job(tmp_path_factory.mktemp("tiny-sft"))


@pytest.fixture(scope="session")
def hf_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [m["content"] for row in read_jsonl(MARV) for m in row["messages"]]
    return build_hf_model_dir(tmp_path_factory.mktemp("hf-model"), texts)
