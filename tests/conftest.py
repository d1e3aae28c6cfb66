from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fakes.py


def chat_lines(n: int, tag: str = "q") -> str:
    return "".join(
        json.dumps({"messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"{tag} question {i}?"},
            {"role": "assistant", "content": f"answer {i}."},
        ]}) + "\n"
        for i in range(n)
    )


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def experiment(self, name: str, body: str) -> Path:
        return self.write(f"experiments/{name}.yaml", body)

    def state_bytes(self, target: str = "local") -> bytes | None:
        path = self.root / "state" / f"{target}.json"
        return path.read_bytes() if path.exists() else None


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A small workspace: two experiments sharing one data file, on the default local target."""
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", "workspace: test-ws\ndefaults:\n  model: local/tiny\n  seed: 1\n")
    ws.write("data/train.jsonl", chat_lines(12))
    ws.experiment("alpha", "description: first\ntraining_file: data/train.jsonl\n"
                           "method:\n  type: supervised\n  hyperparameters:\n    n_epochs: 2\n")
    ws.experiment("beta", "description: second\ntraining_file: data/train.jsonl\n")
    return ws


@pytest.fixture
def example_workspace(tmp_path: Path) -> Path:
    """A copy of this repository's example workspace."""
    dest = tmp_path / "example"
    for rel in ("ftrun.yaml", "experiments", "data", "templates"):
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel)
        elif src.exists():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / rel)
    (dest / "state").mkdir(exist_ok=True)
    return dest


Writer = Callable[[str, str], Path]
