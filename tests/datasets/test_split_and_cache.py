"""Deterministic splits, and a content cache that never rereads unchanged data."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.datasets import DataSpec, Split, prepare
from runner.datasets import preparation as prepare_module
from runner.datasets.cache import clear_process_caches
from runner.datasets.split import validation_count

Prepare = Callable[..., Any]


def _prepare(root: Path, spec: DataSpec, validation: DataSpec | None = None, model: str = "gpt-4o-mini"):  # type: ignore[no-untyped-def]
    return prepare(
        spec, validation, root=root, cache_dir=root / ".ftrun", experiment="e", model=model, method="supervised"
    )


def test_split_is_deterministic_and_partitions(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]
) -> None:
    (tmp_path / "d.jsonl").write_bytes(jsonl(*(chat(i) for i in range(40))))
    spec = DataSpec(path="d.jsonl", split=Split(0.25, seed=7))
    first = _prepare(tmp_path, spec)
    clear_process_caches()
    (tmp_path / "other").mkdir()
    again = prepare(
        spec,
        None,
        root=tmp_path,
        cache_dir=tmp_path / "other",
        experiment="e",
        model="gpt-4o-mini",
        method="supervised",
    )
    assert first.training and first.validation and again.training and again.validation
    assert (first.training.sha256, first.validation.sha256) == (again.training.sha256, again.validation.sha256)
    assert (first.training.examples, first.validation.examples) == (30, 10)
    train = first.training.path.read_bytes().splitlines()
    val = first.validation.path.read_bytes().splitlines()
    original = (tmp_path / "d.jsonl").read_bytes().splitlines()
    assert sorted(train + val) == sorted(original)
    assert train == [x for x in original if x in set(train)]  # original order kept
    other_seed = _prepare(tmp_path, DataSpec(path="d.jsonl", split=Split(0.25, seed=8)))
    assert other_seed.validation and other_seed.validation.sha256 != first.validation.sha256


def test_split_findings_keep_original_line_numbers(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]
) -> None:
    (tmp_path / "d.jsonl").write_bytes(
        jsonl(*(chat(i) for i in range(20))) + b"[1]\n" + jsonl(*(chat(i) for i in range(20, 30)))
    )
    prepared = _prepare(tmp_path, DataSpec(path="d.jsonl", split=Split(0.5, seed=1)))
    (d,) = prepared.diagnostics
    assert (d.check, d.file, d.line) == ("data_type", "d.jsonl", 21)


def test_split_with_validation_file_is_an_error(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]
) -> None:
    (tmp_path / "d.jsonl").write_bytes(jsonl(*(chat(i) for i in range(20))))
    prepared = _prepare(tmp_path, DataSpec(path="d.jsonl", split=Split(0.5)), DataSpec(path="d.jsonl"))
    assert [d.check for d in prepared.diagnostics] == ["split"]


@pytest.mark.parametrize(
    ("n", "fraction", "k"), [(10, 0.1, 1), (14, 0.1, 1), (100, 0.25, 25), (1, 0.5, 0), (2, 0.9, 1)]
)
def test_validation_count(n: int, fraction: float, k: int) -> None:
    assert validation_count(n, fraction) == k


def test_warm_prepare_does_not_read_the_data_again(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_bytes(jsonl(*(chat(i) for i in range(12))))
    cold = _prepare(tmp_path, DataSpec(path="d.jsonl"))
    assert cold.training is not None
    # Same size, same mtime, other bytes: a cache keyed on identity must not notice, proving it did not read.
    st = data.stat()
    data.write_bytes(data.read_bytes().replace(b"Paris.", b"Rome!."))
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    scans: list[Path] = []
    real_scan = prepare_module.scan_file

    def counting_scan(path: Path, *args: Any, **kwargs: Any) -> Any:
        scans.append(path)
        return real_scan(path, *args, **kwargs)

    monkeypatch.setattr(prepare_module, "scan_file", counting_scan)
    for fresh_process in (False, True):
        if fresh_process:
            clear_process_caches()  # only the on-disk cache is left
        warm = _prepare(tmp_path, DataSpec(path="d.jsonl"))
        assert warm.training is not None and warm.training.sha256 == cold.training.sha256
        assert warm.training.stats == cold.training.stats
    assert scans == []
    # A real change (new mtime) is seen.
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed = _prepare(tmp_path, DataSpec(path="d.jsonl"))
    assert changed.training is not None and changed.training.sha256 != cold.training.sha256
    assert len(scans) == 1


def test_results_depend_on_the_model_encoding(
    tmp_path: Path, chat: Callable[..., Any], jsonl: Callable[..., bytes]
) -> None:
    (tmp_path / "d.jsonl").write_bytes(jsonl(*(chat(i, "说中文吧，谢谢你") for i in range(12))))
    new = _prepare(tmp_path, DataSpec(path="d.jsonl"), model="gpt-4.1-mini-2025-04-14")
    old = _prepare(tmp_path, DataSpec(path="d.jsonl"), model="gpt-3.5-turbo-0125")
    assert new.training and old.training and new.training.stats and old.training.stats
    assert (new.training.stats.encoding, old.training.stats.encoding) == ("o200k_base", "cl100k_base")
    assert new.training.stats.total_tokens != old.training.stats.total_tokens
    assert json.loads(new.training.path.read_bytes().splitlines()[0])  # the file itself is uploaded
