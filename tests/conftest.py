from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/workspaces.py, tests/fakes.py

from workspaces import Workspace, chat_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A small workspace: two experiments sharing one data file, on the default local target."""
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: test-ws\ndefaults:\n  model: local/tiny\n  seed: 1\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.experiment(
        "alpha",
        "description: first\ntraining_file: data/train.jsonl\n"
        "method:\n  type: supervised\n  hyperparameters:\n    n_epochs: 2\n",
    )
    ws.experiment("beta", "description: second\ntraining_file: data/train.jsonl\n")
    return ws


@pytest.fixture
def example_workspace(tmp_path: Path) -> Path:
    """A copy of this repository's example workspace."""
    dest = tmp_path / "example"
    for rel in ("ftrun.yaml", "experiments", "data", "templates", "evals"):
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel)
        elif src.exists():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / rel)
    (dest / "state").mkdir(exist_ok=True)
    return dest
