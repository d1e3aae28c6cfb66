"""Getting a job's trainable model: materialise the start model as a directory, then load it (optionally wrapped in
a fresh or resumed LoRA adapter)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from runner.server.training import TrainingFailed
from runner.server.training.gguf_conversion import converted_directory
from runner.server.training.hyperparameters import LoraSettings
from runner.server.training.models import build_preset, load_model, load_tokenizer, locate
from runner.server.training.presets import get_preset

# Presets just built by `start_directory` (model, tokenizer), by directory, handed to the `load_trainable` that
# follows so a fresh preset is not loaded back from the disk it was just saved to. A few at most: a job that fails in
# between leaves its entry, which later builds push out.
_FRESH_KEPT = 4
_fresh: OrderedDict[Path, tuple[Any, Any]] = OrderedDict()
_fresh_lock = threading.Lock()


def preset_tokenizers(converted_models: Path | None) -> Path | None:
    """Where the server keeps preset tokenizers by data hash: beside the converted models it shares between jobs."""
    return None if converted_models is None else converted_models / "preset-tokenizers"


def start_directory(
    base_model: str, texts: list[str], seed: int, work_dir: Path, converted_models: Path | None = None
) -> tuple[Path, bool]:
    """The full-weight HF directory training starts from, and whether it is a freshly built preset.

    Presets are built into `work_dir/base` (tokenizer trained on `texts`, or taken from the server's cache of
    tokenizers by data hash; weights from `seed`); an existing build is reused, so a resumed job sees the same
    tokenizer. A LoRA adapter given as base model is merged into its base
    and written there too, so the job trains (and its result loads) on top of those merged weights. A GGUF file is
    converted once into `converted_models` (shared by every job of the server; the job's own `base` without it).
    """
    source = locate(base_model)
    target = work_dir / "base"
    if source.kind == "gguf":
        assert source.path is not None
        return converted_directory(source.path, converted_models or target), False
    if source.kind == "preset":
        preset = get_preset(base_model)
        assert preset is not None
        if not (target / "config.json").is_file():
            built = build_preset(preset, texts, seed, target, preset_tokenizers(converted_models))
            with _fresh_lock:
                _fresh[target] = built
                while len(_fresh) > _FRESH_KEPT:
                    _fresh.popitem(last=False)
        return target, True
    assert source.path is not None
    if source.kind == "directory":
        return source.path, False
    if not (target / "config.json").is_file():
        merged = load_model(source.path).merge_and_unload()
        merged.save_pretrained(str(target))
        load_tokenizer(source.path).save_pretrained(str(target))
    return target, False


def load_trainable(start_dir: Path, lora: LoraSettings | None, resume_dir: Path | None) -> tuple[Any, Any]:
    """(model in train mode, tokenizer). With LoRA only the adapter's weights require gradients. A preset that
    `start_directory` has just built is used as it is in memory, not loaded from `start_dir`."""
    with _fresh_lock:
        fresh = _fresh.pop(start_dir, None) if resume_dir is None else None
    if fresh is not None:
        base, tokenizer = fresh
    else:
        base = None
        tokenizer = load_tokenizer(resume_dir or start_dir)
    if lora is None:
        model = base if base is not None else load_model(resume_dir or start_dir)
    else:
        from peft import LoraConfig, PeftModel, get_peft_model

        if base is None:
            base = load_model(start_dir)
        if resume_dir is not None:
            model = PeftModel.from_pretrained(base, str(resume_dir), is_trainable=True)
        else:
            config = LoraConfig(
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=lora.target_modules
                if isinstance(lora.target_modules, str)
                else list(lora.target_modules),
                task_type="CAUSAL_LM",
            )
            try:
                model = get_peft_model(base, config)
            except ValueError as exc:
                raise TrainingFailed(
                    "invalid_hyperparameters", f"LoRA: {exc}", "hyperparameters.lora_target_modules"
                ) from exc
        for adapter in model.peft_config.values():
            adapter.base_model_name_or_path = str(start_dir)
    model.train()
    return model, tokenizer


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
