"""Chat completions: validate the request, generate with `training.generate` (or `training.stream` for server-sent
events of `chat.completion.chunk` objects), answer in OpenAI's shape."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.server import ids
from runner.server.context import Generate, ServerContext, Stream
from runner.server.errors import ApiError, invalid
from runner.server.model_catalog import ResolvedModel
from runner.server.training import ChatStream, GenerationParams, TrainingFailed

log = logging.getLogger("runner.server")

MAX_N = 128
# One request may ask for at most this many generated tokens in all (n × max_tokens): a batch runs as long as its
# longest row, so an unbounded request would keep every other chat waiting.
MAX_TOKENS_PER_REQUEST = 65_536
MAX_STOP = 4
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def _number(body: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise invalid(f"Invalid '{name}': expected a number between {lo} and {hi}.", name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str, lo: int, hi: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"Invalid '{name}': expected an integer between {lo} and {hi}.", name)
    return value


def parse_messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise invalid("'messages' must be a non-empty array.", "messages")
    for i, m in enumerate(raw):
        role = m.get("role") if isinstance(m, Mapping) else None
        if not isinstance(role, str) or role not in ROLES:
            raise invalid(
                f"Invalid 'messages[{i}].role': expected one of {', '.join(sorted(ROLES))}.", f"messages[{i}].role"
            )
        if m.get("content") is not None and not isinstance(m["content"], str | list):
            raise invalid(f"Invalid 'messages[{i}].content': expected a string or an array.", f"messages[{i}]")
    return [dict(m) for m in raw]


def parse_params(body: Mapping[str, Any]) -> GenerationParams:
    max_tokens = _integer(body, "max_completion_tokens", 1, 1_000_000) or _integer(body, "max_tokens", 1, 1_000_000)
    stop = body.get("stop")
    if stop is None:
        stops: Sequence[str] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and len(stop) <= MAX_STOP and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise invalid(f"Invalid 'stop': expected a string or up to {MAX_STOP} strings.", "stop")
    n = _integer(body, "n", 1, MAX_N) or 1
    max_tokens = max_tokens or GenerationParams.max_tokens
    if n * max_tokens > MAX_TOKENS_PER_REQUEST:
        raise invalid(
            f"n × max_tokens is {n * max_tokens}; this server generates at most {MAX_TOKENS_PER_REQUEST} tokens "
            "per request.",
            "max_tokens",
        )
    return GenerationParams(
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        seed=_integer(body, "seed", -(2**63), 2**63 - 1),
        stop=stops,
        n=n,
    )


@dataclass(frozen=True)
class StreamOptions:
    include_usage: bool = False


def parse_stream(body: Mapping[str, Any]) -> StreamOptions | None:
    """None for a whole answer; the stream's options when `stream` is true."""
    flag = body.get("stream")
    if flag is not None and not isinstance(flag, bool):
        raise invalid("Invalid 'stream': expected a boolean.", "stream")
    options = body.get("stream_options")
    if options is None:
        return StreamOptions() if flag else None
    if not flag:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if not isinstance(options, Mapping):
        raise invalid("Invalid 'stream_options': expected an object.", "stream_options")
    include_usage = options.get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise invalid("Invalid 'stream_options.include_usage': expected a boolean.", "stream_options.include_usage")
    return StreamOptions(include_usage=bool(include_usage))


def chat_directory(context: ServerContext, model: ResolvedModel) -> Path:
    """The directory `generate` loads: a fine-tuned model's or checkpoint's own, or a base model's weights (a GGUF
    file or packaged model converted on its first chat). A preset has none: nothing to chat with until it is trained."""
    if model.kind != "base":
        return model.path
    try:
        directory = context.chat_directory(model.source)
    except TrainingFailed as e:
        raise ApiError(400, e.message, "invalid_request_error", e.param or "model", e.code) from None
    if directory is None:
        raise ApiError(
            400,
            f"The model '{model.id}' is a base model of this server; fine-tune it and chat with the fine-tuned model.",
            "invalid_request_error",
            "model",
            "model_not_supported",
        )
    return directory


def complete(
    generate: Generate, model: ResolvedModel, directory: Path, messages: list[dict[str, Any]], params: GenerationParams
) -> dict[str, Any]:
    try:
        result = generate(directory, messages, params)
    except TrainingFailed as e:
        raise ApiError(400, e.message, "invalid_request_error", e.param or "model", e.code) from None
    return {
        "id": ids.chat_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.id,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": g.text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(result.choices)
        ],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
        "service_tier": "default",
    }


def open_stream(
    stream: Stream, directory: Path, messages: list[dict[str, Any]], params: GenerationParams
) -> ChatStream:
    """Start generating (the model is loaded here, so a model that cannot load is a 4xx before any event is sent)."""
    try:
        return stream(directory, messages, params)
    except TrainingFailed as e:
        raise ApiError(400, e.message, "invalid_request_error", e.param or "model", e.code) from None


def _event(data: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def stream_events(
    pieces: ChatStream, model_id: str, params: GenerationParams, options: StreamOptions
) -> Iterator[bytes]:
    """Server-sent events as OpenAI sends them: per choice a first chunk with the role, content chunks, a chunk with
    the finish reason; with `include_usage` every chunk has `usage: null` and a last one (no choices) has the usage;
    then `data: [DONE]`. An error once events have started is sent as an event with OpenAI's error envelope."""
    base = {
        "id": ids.chat_completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model_id,
        "service_tier": "default",
        "system_fingerprint": None,
    }

    def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        body: dict[str, Any] = {
            **base,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if options.include_usage:
            body["usage"] = None
        return _event(body)

    completion_tokens = 0
    try:
        for index in range(params.n):
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        for piece in pieces:
            if piece.text:
                yield chunk(piece.index, {"content": piece.text})
            if piece.finish_reason is not None:
                completion_tokens += piece.completion_tokens
                yield chunk(piece.index, {}, piece.finish_reason)
        if options.include_usage:
            usage = {
                "prompt_tokens": pieces.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": pieces.prompt_tokens + completion_tokens,
            }
            yield _event({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"
    except Exception as exc:  # the status line went out with the first event: report the error in the stream
        log.exception("streamed chat completion failed")
        message = exc.message if isinstance(exc, TrainingFailed) else "The server had an error while generating."
        yield _event(ApiError(500, message, "server_error").body())
    finally:
        pieces.close()
