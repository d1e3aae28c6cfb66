"""Where base models come from: presets built from a config, local HF directories, GGUF files (converted once, see
`gguf_conversion`), models that installed packages ship (see `packaged_models`), and the local HF hub cache.

Every kind ends up as a directory in Hugging Face format (presets are written to the job's work dir first), so one
loading path serves training, resuming and inference. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from runner.server.training import TrainingFailed
from runner.server.training.gguf_conversion import is_gguf
from runner.server.training.packaged_models import installed, packaged_file
from runner.server.training.presets import PRESETS, Preset

# Turn format for tokenizers that come without a chat template (plain pretrained LMs): each turn ends with eos.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] + ':\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### assistant:\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ModelSource:
    kind: Literal["preset", "directory", "adapter", "gguf"]
    name: str  # what the job asked for
    path: Path | None  # the HF-format directory, or the GGUF file (None for presets until built)


def available_base_models() -> list[str]:
    return sorted(PRESETS) + installed() + sorted(_cached_hub_models())


def hub_cache_dir() -> str:
    """The HF hub cache, read when asked, where huggingface_hub looks: HF_HUB_CACHE (or its older name
    HUGGINGFACE_HUB_CACHE), else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return os.path.expanduser(os.path.expandvars(explicit))
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = os.environ.get("HF_HOME") or os.path.join(cache_home, "huggingface")
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


def _cached_hub_models() -> Iterable[str]:
    folder = hub_cache_dir()
    if not os.path.isdir(folder):  # nothing cached (and huggingface_hub need not even be imported)
        return []
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir(folder)
    except Exception:  # an unreadable cache: nothing cached
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        if any(f.file_name == "config.json" for rev in repo.revisions for f in rev.files):
            found.append(repo.repo_id)
    return found


def _not_found(name: str) -> TrainingFailed:
    return TrainingFailed(
        "model_not_found",
        f"Model {name!r} is not available on this machine, and this server never downloads models. "
        f"Use a preset ({', '.join(sorted(PRESETS))}), or download the model on a machine with network access "
        f"(e.g. `hf download {name} --local-dir <dir>`), copy the directory here and set `model:` to its path; "
        "or populate this machine's Hugging Face cache (HF_HOME) with it.",
        "model",
    )


def locate(name: str) -> ModelSource:
    """Find `name` locally, or raise model_not_found."""
    if name in PRESETS:
        return ModelSource("preset", name, None)
    packaged = packaged_file(name)
    if packaged is not None:
        return ModelSource("gguf", name, packaged)
    path = Path(name).expanduser()
    if is_gguf(path):
        return ModelSource("gguf", name, path.resolve())
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            return ModelSource("adapter", name, path.resolve())
        if (path / "config.json").is_file():
            return ModelSource("directory", name, path.resolve())
        raise TrainingFailed(
            "model_not_found",
            f"{name} is a directory but holds no Hugging Face model (no config.json or adapter_config.json)",
            "model",
        )
    if name.startswith(("/", ".", "~")) or name.count("/") > 1 or not name.strip():
        raise _not_found(name)
    try:
        from huggingface_hub import snapshot_download

        snapshot = snapshot_download(name, local_files_only=True, cache_dir=hub_cache_dir())
    except Exception as exc:
        raise _not_found(name) from exc
    return ModelSource("directory", name, Path(snapshot))


def adapter_base(adapter_dir: Path) -> str:
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise TrainingFailed("model_not_found", f"{adapter_dir} is an adapter that does not name its base model")
    return base


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    prepare_tokenizer(tokenizer)
    return tokenizer


def prepare_tokenizer(tokenizer: Any) -> None:
    """Give a tokenizer what chat training needs: an eos token, a pad token and a chat template."""
    if tokenizer.eos_token is None:
        raise TrainingFailed("invalid_model", "The model's tokenizer has no eos token, so answers could never end")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_TEMPLATE
    tokenizer.padding_side = "right"


def load_model(path: Path) -> Any:
    """A causal LM on `runtime.device()` in `runtime.load_dtype` (float32 on the CPU), from a full model directory or
    an adapter directory."""
    from transformers import AutoModelForCausalLM

    from runner.server.training.runtime import device, load_dtype

    if (path / "adapter_config.json").is_file():
        from peft import PeftModel

        base = load_model(_directory_of(adapter_base(path)))
        return PeftModel.from_pretrained(base, str(path))
    on = device()
    model: Any = AutoModelForCausalLM.from_pretrained(str(path), dtype=load_dtype(_declared_dtype(path), on))
    return model.to(on)


def _declared_dtype(path: Path) -> str | None:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    declared = config.get("dtype", config.get("torch_dtype")) if isinstance(config, dict) else None
    return declared if isinstance(declared, str) else None


def _directory_of(name: str) -> Path:
    source = locate(name)
    if source.path is None:
        raise TrainingFailed("model_not_found", f"{name} is a preset; an adapter must name a model directory")
    return source.path


def build_preset(
    preset: Preset, texts: list[str], seed: int, out_dir: Path, tokenizer_cache: Path | None = None
) -> tuple[Any, Any]:
    """Train the preset's tokenizer on `texts` (or take it from `tokenizer_cache`), initialise the model from `seed`,
    save both to `out_dir` and return them (model, tokenizer), ready to train without loading them back."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from runner.server.training.runtime import device
    from runner.server.training.tokenizer_builder import cached_tokenizer

    tokenizer = cached_tokenizer(texts, preset.vocab_size, tokenizer_cache)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_layers,
        num_attention_heads=preset.num_heads,
        num_key_value_heads=preset.num_heads,
        max_position_embeddings=preset.max_positions,
        tie_word_embeddings=True,
        initializer_range=preset.init_std,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model: Any = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    prepare_tokenizer(tokenizer)
    return model.to(device()), tokenizer


def max_length(model: Any) -> int:
    config = model.config
    return int(min(getattr(config, "max_position_embeddings", 2048) or 2048, 4096))
