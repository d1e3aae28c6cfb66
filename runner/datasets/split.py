"""Deterministic training/validation split of a data file's examples.

round(n × validation) examples, chosen by `random.Random(seed).sample`, go to the validation file; the others stay in
the training file; both keep the original order. Same bytes, fraction and seed → the same two files, on any machine.
Blank lines are dropped. Each part keeps a line map back to the original file.
"""

from __future__ import annotations

import random
from pathlib import Path

from runner.datasets.cache import DataCache, key_of
from runner.datasets.materialize import Material
from runner.datasets.records import Split


def validation_count(n: int, fraction: float) -> int:
    """How many of n examples go to validation: round(n × fraction), but keep at least one on each side."""
    if n < 2 or fraction <= 0:
        return 0
    return min(n - 1, max(1, round(n * fraction)))


def _content_lines(path: Path) -> list[int]:
    """Line numbers (1-based) of the non-blank lines."""
    out: list[int] = []
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            if raw.strip():
                out.append(i)
    return out


def split_material(m: Material, split: Split, cache: DataCache) -> tuple[Material, Material]:
    if not 0 < split.validation < 1:
        raise ValueError(f"split.validation must be between 0 and 1, got {split.validation}")
    key = key_of("split", m.sha256, split.validation, split.seed)
    doc = cache.get("split", key)
    parts: list[tuple[str, list[int]]] | None = None
    if doc is not None and all(cache.blob_path(d["sha256"]).is_file() for d in doc["parts"]):
        parts = [(d["sha256"], d["lines"]) for d in doc["parts"]]
    if parts is None:
        lines = _content_lines(m.path)
        k = validation_count(len(lines), split.validation)
        chosen = set(random.Random(split.seed).sample(range(len(lines)), k))
        train_lines = [ln for i, ln in enumerate(lines) if i not in chosen]
        val_lines = [ln for i, ln in enumerate(lines) if i in chosen]
        val_set = set(val_lines)
        wanted = {ln: ln in val_set for ln in lines}
        train_chunks: list[bytes] = []
        val_chunks: list[bytes] = []
        with m.path.open("rb") as f:
            for i, raw in enumerate(f, start=1):
                if i in wanted:
                    line = raw if raw.endswith(b"\n") else raw + b"\n"
                    (val_chunks if wanted[i] else train_chunks).append(line)
        parts = []
        for chunks, part_lines in ((train_chunks, train_lines), (val_chunks, val_lines)):
            _, digest = cache.store_blob(b"".join(chunks))
            parts.append((digest, part_lines))
        cache.put("split", key, {"parts": [{"sha256": d, "lines": ln} for d, ln in parts]})
    pct = round(split.validation * 100)
    labels = (f"training {100 - pct}%", f"validation {pct}%")
    out = []
    for (digest, part_lines), label in zip(parts, labels, strict=True):
        line_map = tuple(m.origin_line(ln) for ln in part_lines)
        out.append(
            Material(cache.blob_path(digest), digest, f"{m.display} ({label})", m.origin, line_map, m.template, True)
        )
    return out[0], out[1]
