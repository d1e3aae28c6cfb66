"""Chat completions from a trained model directory (full weights or a LoRA adapter), whole or streamed, with a small
model cache.

One lock serialises loading and generation: torch already uses every core it is given for one request, and the
cache and the global RNG (seeded sampling) must not be shared between threads mid-request.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from runner.server.training import ChatStream, Completion, Generation, GenerationParams, StreamPiece, TrainingFailed
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


def _check(params: GenerationParams) -> None:
    if params.max_tokens < 1 or params.n < 1:
        raise ValueError("max_tokens and n must be at least 1")
    if params.temperature < 0 or not 0 < params.top_p <= 1:
        raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


def _prompt_ids(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> Any:
    import torch

    chat = [normalise_message(m, f"messages[{i}]", "messages") for i, m in enumerate(messages)]
    prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]], dtype=torch.long)


def _generation_config(params: GenerationParams, stop_ids: list[int], pad_token_id: int | None, sequences: int) -> Any:
    from transformers import GenerationConfig

    greedy = params.temperature == 0
    return GenerationConfig(
        max_new_tokens=params.max_tokens,
        do_sample=not greedy,
        temperature=None if greedy else params.temperature,
        top_p=None if greedy else params.top_p,
        top_k=None,
        num_return_sequences=sequences,
        eos_token_id=stop_ids,
        pad_token_id=pad_token_id,
    )


def generate(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> Completion:
    """Answer `messages` with `params.n` choices; greedy when temperature is 0."""
    import torch

    _check(params)
    configure_torch()
    with _lock:
        model, tokenizer = _loaded(model_dir)
        input_ids = _prompt_ids(tokenizer, messages).to(model.device)
        stop_ids = _stop_ids(model, tokenizer)
        greedy = params.temperature == 0
        config = _generation_config(params, stop_ids, tokenizer.pad_token_id, 1 if greedy else params.n)
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


def stream(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> ChatStream:
    """Like `generate`, but piece by piece as tokens come out of the model (generation runs in a thread). Greedy
    choices are one generation sent under every index; sampled choices are generated one after another."""
    import torch

    _check(params)
    configure_torch()
    _lock.acquire()
    try:
        model, tokenizer = _loaded(model_dir)
        input_ids = _prompt_ids(tokenizer, messages).to(model.device)
        if params.seed is not None:
            torch.manual_seed(params.seed)
    except BaseException:
        _lock.release()
        raise
    return ChatStream(int(input_ids.shape[1]), _pieces(model, tokenizer, input_ids, params), _lock.release)


def _pieces(model: Any, tokenizer: Any, input_ids: Any, params: GenerationParams) -> Iterator[StreamPiece]:
    if params.temperature == 0:
        yield from _one_generation(model, tokenizer, input_ids, params, range(params.n))
    else:
        for index in range(params.n):
            yield from _one_generation(model, tokenizer, input_ids, params, (index,))


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many characters at the end of `text` may still change: an incomplete UTF-8 character, or the start of a
    stop sequence."""
    held = 1 if text.endswith("\ufffd") else 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                held = max(held, k)
                break
    return held


def _one_generation(
    model: Any, tokenizer: Any, input_ids: Any, params: GenerationParams, indices: Sequence[int]
) -> Iterator[StreamPiece]:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    stop_ids = _stop_ids(model, tokenizer)
    tokens: queue.Queue[list[int] | BaseException | None] = queue.Queue()
    cancelled = threading.Event()

    class Sink:  # transformers' streamer interface: the prompt first, then each new token
        prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            tokens.put([int(t) for t in value.reshape(-1).tolist()])

        def end(self) -> None:
            tokens.put(None)

    class Cancelled(StoppingCriteria):
        def __call__(self, ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((ids.shape[0],), cancelled.is_set(), dtype=torch.bool, device=ids.device)

    def work() -> None:
        try:
            with torch.no_grad():
                model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=_generation_config(params, stop_ids, tokenizer.pad_token_id, 1),
                    streamer=Sink(),
                    stopping_criteria=StoppingCriteriaList([Cancelled()]),
                )
        except BaseException as exc:  # handed to the reader, which raises it in the request's thread
            tokens.put(exc)
        finally:
            tokens.put(None)

    thread = threading.Thread(target=work, name="ftrun-generate", daemon=True)
    thread.start()
    generated: list[int] = []
    sent = ""
    ended = stopped = False
    try:
        while not (ended or stopped):
            item = tokens.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            for token in item:
                if token in stop_ids:
                    ended = True
                    break
                generated.append(token)
            text, stopped = _cut(tokenizer.decode(generated, skip_special_tokens=True), params.stop)
            ready = text if ended or stopped else text[: len(text) - _held_back(text, params.stop)]
            if len(ready) > len(sent) and ready.startswith(sent):
                for index in indices:
                    yield StreamPiece(index, ready[len(sent) :])
                sent = ready
        text, stopped = _cut(tokenizer.decode(generated, skip_special_tokens=True), params.stop)
        rest = text[len(sent) :] if text.startswith(sent) else ""
        finish: Literal["stop", "length"] = "stop" if ended or stopped else "length"
        for index in indices:
            yield StreamPiece(index, rest, finish, len(generated) + (1 if ended else 0))
    finally:
        cancelled.set()
        thread.join()
