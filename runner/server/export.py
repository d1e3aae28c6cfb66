"""Exporting a model of the built-in server as a Hugging Face directory that plain transformers (or peft) loads.

A fine-tuned model or checkpoint is exported from the server's data directory: a LoRA adapter as it is (peft loads
it on the base model its `adapter_config.json` names), or with `merge` as full weights with the adapter folded in,
which `AutoModelForCausalLM.from_pretrained` alone loads. Either way the tokenizer and its chat template come along,
so the exported model answers a chat exactly as the server does (greedy). Files only the trainer uses (its state and
optimizer) stay behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.diagnostics import FtrunError
from runner.server.datadir import DataDir
from runner.server.model_catalog import resolve
from runner.server.store import Store

TRAINER_ONLY = frozenset({"trainer_state.json", "optimizer.pt"})


@dataclass(frozen=True)
class Exported:
    model: str
    directory: Path
    kind: Literal["adapter", "merged", "full"]


def export_model(data_dir: Path, model_id: str, out_dir: Path, merge: bool = False) -> Exported:
    """Write `model_id` (a fine-tuned model or a checkpoint of this server) to `out_dir`, which must be new or empty."""
    data = DataDir.at(data_dir)
    store = Store(data.database)
    found = resolve(store, model_id, store.organization_id(), ())
    if found is None or found.kind == "base":
        raise FtrunError(
            f"{model_id} is not a fine-tuned model or checkpoint of the built-in server in {data.root}",
            hint="give an experiment's name once `ftrun apply` has trained it, or a model id (`ftrun output NAME`)",
        )
    source = found.path
    is_adapter = (source / "adapter_config.json").is_file()
    if not is_adapter and not (source / "config.json").is_file():
        raise FtrunError(f"the files of {model_id} are missing from {source}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FtrunError(f"{out_dir} already exists and is not empty", hint="choose a new directory")
    if is_adapter and merge:
        _merge(source, out_dir)
        return Exported(model_id, out_dir, "merged")
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in TRAINER_ONLY:
            continue
        if item.is_dir():
            shutil.copytree(item, out_dir / item.name)
        else:
            shutil.copy2(item, out_dir / item.name)
    return Exported(model_id, out_dir, "adapter" if is_adapter else "full")


def _merge(adapter_dir: Path, out_dir: Path) -> None:
    from runner.server.training.models import load_model, load_tokenizer

    merged = load_model(adapter_dir).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir))
    load_tokenizer(adapter_dir).save_pretrained(str(out_dir))
