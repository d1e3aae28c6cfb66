"""Chat completions from a trained model directory (full weights or a LoRA adapter), with a small model cache.

One lock serialises loading and generation: torch already uses every core it is given for one request, and the
cache and the global RNG (seeded sampling) must not be shared between threads mid-request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.server.training import Completion, Generation, GenerationParams, TrainingFailed
from runner.server.training.examples import normalise_message
from runner.server.training.runtime import configure_torch

CACHE_SIZE = 3
_lock = threading.Lock()
_cache: OrderedDict[tuple[str, float], tuple[Any, Any]] = OrderedDict()


def _cache_key(model_dir: Path) -> tuple[str, float]:
    resolved = model_dir.resolve()
    marker = resolved / ("adapter_config.json" if (resolved / "adapter_config.json").is_file() else "config.json")
    if not marker.is_file():
        raise TrainingFailed("model_not_found", f"{model_dir} holds no model", "model")
    return str(resolved), marker.stat().st_mtime


def _loaded(model_dir: Path) -> tuple[Any, Any]:
    from runner.server.training.models import load_model, load_tokenizer

    key = _cache_key(model_dir)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        model = load_model(Path(key[0]))
        tokenizer = load_tokenizer(Path(key[0]))
    except TrainingFailed:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:  # no weights, no tokenizer, an unreadable config
        raise TrainingFailed("model_not_found", f"The model in {model_dir} cannot be loaded: {exc}", "model") from None
    model.eval()
    _cache[key] = (model, tokenizer)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model, tokenizer


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, list):
        ids.update(configured)
    return sorted(i for i in ids if i is not None)


def _cut(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


def generate(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> Completion:
    """Answer `messages` with `params.n` choices; greedy when temperature is 0."""
    import torch
    from transformers import GenerationConfig

    if params.max_tokens < 1 or params.n < 1:
        raise ValueError("max_tokens and n must be at least 1")
    if params.temperature < 0 or not 0 < params.top_p <= 1:
        raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
    chat = [normalise_message(m, f"messages[{i}]", "messages") for i, m in enumerate(messages)]
    configure_torch()
    with _lock:
        model, tokenizer = _loaded(model_dir)
        prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        input_ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]], dtype=torch.long)
        stop_ids = _stop_ids(model, tokenizer)
        greedy = params.temperature == 0
        config = GenerationConfig(
            max_new_tokens=params.max_tokens,
            do_sample=not greedy,
            temperature=None if greedy else params.temperature,
            top_p=None if greedy else params.top_p,
            top_k=None,
            num_return_sequences=1 if greedy else params.n,
            eos_token_id=stop_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.no_grad():
            output = model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=config
            )
    prompt_len = input_ids.shape[1]
    rows = [output[0]] * params.n if greedy else list(output)
    choices: list[Generation] = []
    completion_tokens = 0
    for row in rows:
        generated = row[prompt_len:].tolist()
        ended = False
        for i, token in enumerate(generated):
            if token in stop_ids:
                generated, ended = generated[:i], True
                break
        completion_tokens += len(generated) + (1 if ended else 0)
        text, stopped = _cut(tokenizer.decode(generated, skip_special_tokens=True), params.stop)
        choices.append(Generation(text, "stop" if ended or stopped else "length"))
    return Completion(choices, prompt_len, completion_tokens)
