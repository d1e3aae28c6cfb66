"""Chat completions from a trained model directory (full weights or a LoRA adapter), whole or streamed, with a small
model cache.

Requests are tokenized in their own threads and generated together with concurrent requests for the same model by
`generation_batcher` (one thread, one batched `generate` at a time); this module turns each request's tokens into
text pieces. A lock serialises loading models into the cache.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.server.training import ChatStream, Completion, Generation, GenerationParams, StreamPiece, TrainingFailed
from runner.server.training.examples import normalise_message
from runner.server.training.generation_batcher import Item, Row, batcher, sampler
from runner.server.training.models import load_model, load_tokenizer
from runner.server.training.runtime import configure_torch

CACHE_SIZE = 3
_load_lock = threading.Lock()
_cache: OrderedDict[tuple[str, float], tuple[Any, Any]] = OrderedDict()


def _cache_key(model_dir: Path) -> tuple[str, float]:
    resolved = model_dir.resolve()
    marker = resolved / ("adapter_config.json" if (resolved / "adapter_config.json").is_file() else "config.json")
    if not marker.is_file():
        raise TrainingFailed("model_not_found", f"{model_dir} holds no model", "model")
    return str(resolved), marker.stat().st_mtime


def _loaded(model_dir: Path) -> tuple[Any, Any]:
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
    with _load_lock:
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


def _prompt_ids(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> list[int]:
    chat = [normalise_message(m, f"messages[{i}]", "messages") for i, m in enumerate(messages)]
    prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def _rows(model: Any, tokenizer: Any, prompt: list[int], params: GenerationParams, streamed: bool) -> list[Row]:
    """The sequences a request generates: one for a greedy request (every choice is that one), one per choice when
    sampled, each with its own generator (choice i of a seeded request draws from seed + i)."""
    sink: queue.Queue[Item] = queue.Queue()
    common = {
        "model": model,
        "prompt": prompt,
        "max_tokens": params.max_tokens,
        "stop_ids": frozenset(_stop_ids(model, tokenizer)),
        "pad_token_id": tokenizer.pad_token_id,
        "sink": sink,
        "streamed": streamed,
    }
    if params.temperature == 0:
        return [Row(choice=0, **common)]
    return [
        Row(
            choice=i,
            temperature=params.temperature,
            top_p=params.top_p,
            generator=sampler(model.device, None if params.seed is None else params.seed + i),
            **common,
        )
        for i in range(params.n)
    ]


def generate(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> Completion:
    """Answer `messages` with `params.n` choices; greedy when temperature is 0. Batched with concurrent requests for
    the same model (see `generation_batcher`)."""
    answer = _open(model_dir, messages, params, streamed=False)
    texts = [""] * params.n
    finishes: list[Literal["stop", "length"]] = ["length"] * params.n
    completion_tokens = 0
    with contextlib.closing(answer):
        for piece in answer:
            texts[piece.index] += piece.text
            if piece.finish_reason is not None:
                finishes[piece.index] = piece.finish_reason
                completion_tokens += piece.completion_tokens
    return Completion(
        [Generation(t, f) for t, f in zip(texts, finishes, strict=True)], answer.prompt_tokens, completion_tokens
    )


def stream(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> ChatStream:
    """Like `generate`, but piece by piece as tokens come out of the model. Greedy choices are one generation sent
    under every index; sampled choices are generated side by side (their pieces interleave)."""
    return _open(model_dir, messages, params, streamed=True)


def _open(
    model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams, *, streamed: bool
) -> ChatStream:
    _check(params)
    configure_torch()
    with _load_lock:
        model, tokenizer = _loaded(model_dir)
    prompt = _prompt_ids(tokenizer, messages)
    rows = _rows(model, tokenizer, prompt, params, streamed)
    batcher.submit(rows)

    def cancel() -> None:
        for row in rows:
            row.cancelled.set()

    indices = range(params.n) if params.temperature == 0 else None
    return ChatStream(len(prompt), _pieces(tokenizer, rows, params, indices), cancel)


@dataclass
class _Choice:
    """What a reader has seen of one row."""

    generated: list[int] = field(default_factory=list)
    sent: str = ""
    finished: bool = False


def _pieces(
    tokenizer: Any, rows: list[Row], params: GenerationParams, greedy_indices: Sequence[int] | None
) -> Iterator[StreamPiece]:
    """Decode each row's tokens as they arrive; hold back what may still change (a partial character, the start of a
    stop sequence); cut at a stop sequence (and cancel the row there)."""
    sink = rows[0].sink
    by_choice = {row.choice: row for row in rows}
    seen = {row.choice: _Choice() for row in rows}
    try:
        while not all(c.finished for c in seen.values()):
            item = sink.get()
            if isinstance(item, BaseException):
                raise item
            choice, tokens = item
            state, row = seen[choice], by_choice[choice]
            if state.finished:
                continue
            indices = greedy_indices or (choice,)
            ended = stopped = False
            if tokens is not None:
                for token in tokens:
                    if token in row.stop_ids:
                        ended = True
                        break
                    state.generated.append(token)
            text, stopped = _cut(tokenizer.decode(state.generated, skip_special_tokens=True), params.stop)
            if tokens is not None and not ended and not (stopped and row.streamed):
                ready = text if stopped else text[: len(text) - _held_back(text, params.stop)]
                if len(ready) > len(state.sent) and ready.startswith(state.sent):
                    for index in indices:
                        yield StreamPiece(index, ready[len(state.sent) :])
                    state.sent = ready
                continue
            state.finished = True
            row.cancelled.set()  # a stop sequence in a streamed row: nothing more is needed from it
            rest = text[len(state.sent) :] if text.startswith(state.sent) else ""
            finish: Literal["stop", "length"] = "stop" if ended or stopped else "length"
            for index in indices:
                yield StreamPiece(index, rest, finish, len(state.generated) + (1 if ended else 0))
    finally:
        for row in rows:
            row.cancelled.set()


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
