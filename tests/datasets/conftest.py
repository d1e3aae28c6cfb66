"""Fixtures for the data layer: a throwaway workspace with templates/ and data/, and a clean process cache."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.datasets.cache import clear_process_caches

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_process_cache() -> Iterator[None]:
    clear_process_caches()
    yield
    clear_process_caches()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace holding copies of the shipped templates and sample data."""
    root = tmp_path / "ws"
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "data").mkdir()
    for name in ("faq.csv", "chat_export.csv"):
        shutil.copy(REPO / "data" / name, root / "data" / name)
    return root


def chat_example(i: int, answer: str = "Paris.") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You answer geography questions."},
            {"role": "user", "content": f"Question {i}: what is the capital of France?"},
            {"role": "assistant", "content": answer},
        ]
    }


def to_jsonl(*examples: Any) -> bytes:
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in examples)


@pytest.fixture
def chat() -> Callable[..., dict[str, Any]]:
    """chat(i) → a valid, distinct supervised chat example."""
    return chat_example


@pytest.fixture
def jsonl() -> Callable[..., bytes]:
    """jsonl(*examples) → JSONL bytes, non-ASCII kept."""
    return to_jsonl
