"""Getting a job's trainable model: materialise the start model as a directory, then load it (optionally wrapped in
a fresh or resumed LoRA adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.server.training import TrainingFailed
from runner.server.training.gguf_conversion import converted_directory
from runner.server.training.hyperparameters import LoraSettings
from runner.server.training.models import build_preset, load_model, load_tokenizer, locate
from runner.server.training.presets import get_preset


def start_directory(
    base_model: str, texts: list[str], seed: int, work_dir: Path, converted_models: Path | None = None
) -> tuple[Path, bool]:
    """The full-weight HF directory training starts from, and whether it is a freshly built preset.

    Presets are built into `work_dir/base` (tokenizer trained on `texts`, weights from `seed`); an existing build
    is reused, so a resumed job sees the same tokenizer. A LoRA adapter given as base model is merged into its base
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
            build_preset(preset, texts, seed, target)
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
    """(model in train mode, tokenizer). With LoRA only the adapter's weights require gradients."""
    tokenizer = load_tokenizer(resume_dir or start_dir)
    if lora is None:
        model = load_model(resume_dir or start_dir)
    else:
        from peft import LoraConfig, PeftModel, get_peft_model

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
