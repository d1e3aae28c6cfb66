"""Trainers behind one small interface.

The server's job worker calls `resolve_hyperparameters` when a job starts, then `train` with hooks through which the
trainer reports metrics and checkpoints and learns whether to stop; the chat endpoint calls `generate` (or `stream`),
with `base_directory` finding a base model's weights. Importing this package never imports torch: implementations
import it inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Control = Literal["continue", "cancel", "pause"]


@dataclass(frozen=True)
class TrainingRequest:
    job_id: str
    base_model: str  # a preset ("local/tiny"), a local HF model directory, a GGUF file, a packaged model's name, or
    # a hub id found in the HF cache
    method: Literal["supervised", "dpo"]
    hyperparameters: Mapping[str, Any]  # already resolved: no "auto" left
    seed: int
    training_file: Path
    validation_file: Path | None
    work_dir: Path  # the job's own directory: checkpoints and the final model are written under it
    resume_from: Path | None = None  # a checkpoint directory written by an earlier attempt of the same job
    converted_models: Path | None = None  # where GGUF base models are converted to HF directories, once per file


@dataclass(frozen=True)
class StepMetrics:
    step: int
    total_steps: int
    train_loss: float
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


@dataclass(frozen=True)
class Checkpoint:
    step: int
    epoch: int
    path: Path  # a directory loadable by `generate` (and by `train` as resume_from)
    metrics: StepMetrics


@dataclass(frozen=True)
class TrainingResult:
    status: Literal["succeeded", "cancelled", "paused"]
    model_dir: Path | None  # the final model (succeeded only)
    trained_tokens: int
    steps: int
    checkpoint_dir: Path | None = None  # paused only: the checkpoint to pass back as TrainingRequest.resume_from


class TrainingFailed(Exception):
    """The job cannot train; `code` follows OpenAI's job error codes where one fits."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


class Hooks(Protocol):
    def control(self) -> Control:
        """Polled between optimizer steps; must be cheap. 'pause' and 'cancel' end training promptly."""

    def metrics(self, m: StepMetrics) -> None: ...

    def checkpoint(self, c: Checkpoint) -> None: ...

    def message(self, level: Literal["info", "warn", "error"], text: str) -> None: ...


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: Literal["stop", "length"]


@dataclass(frozen=True)
class Completion:
    choices: Sequence[Generation]
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: Sequence[str] = field(default_factory=tuple)
    n: int = 1


@dataclass(frozen=True)
class StreamPiece:
    """Text one choice gained since its last piece; the last piece of a choice carries its finish reason and the
    number of tokens it generated."""

    index: int
    text: str
    finish_reason: Literal["stop", "length"] | None = None
    completion_tokens: int = 0


class ChatStream:
    """The pieces of one chat completion, as the model writes them.

    `prompt_tokens` is known when the stream is opened (the model is loaded by then, so a model that cannot load fails
    before any piece). Iterate to the end, or `close()` early (a client that went away): either releases what
    generation holds, and `close()` also stops the generation under way."""

    def __init__(self, prompt_tokens: int, pieces: Iterator[StreamPiece], release: Callable[[], None]) -> None:
        self.prompt_tokens = prompt_tokens
        self._pieces = pieces
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> StreamPiece:
        try:
            return next(self._pieces)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is None:
            return
        try:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()
        finally:
            release()


def resolve_hyperparameters(
    base_model: str, method: str, requested: Mapping[str, Any], n_examples: int
) -> dict[str, Any]:
    from runner.server.training.hyperparameters import resolve

    return resolve(base_model, method, requested, n_examples)


def train(request: TrainingRequest, hooks: Hooks) -> TrainingResult:
    from runner.server.training.trainer import train as _train

    return _train(request, hooks)


def warm_up() -> None:
    """Import and exercise what training needs (torch, transformers, peft, tokenizers), ahead of the first job."""
    from runner.server.training.warm_up import warm_up as _warm_up

    _warm_up()


def generate(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> Completion:
    from runner.server.training.inference import generate as _generate

    return _generate(model_dir, messages, params)


def stream(model_dir: Path, messages: Sequence[Mapping[str, Any]], params: GenerationParams) -> ChatStream:
    from runner.server.training.inference import stream as _stream

    return _stream(model_dir, messages, params)


def base_directory(name: str, converted_models: Path) -> Path | None:
    """The Hugging Face directory a base model chats from: a local directory or cached hub model as it is, a GGUF file
    or packaged model once converted into `converted_models`; None for presets (no weights until a job builds them)
    and for models not on this machine."""
    from runner.server.training.gguf_conversion import converted_directory
    from runner.server.training.models import locate

    try:
        source = locate(name)
    except TrainingFailed:
        return None
    if source.path is None:
        return None
    if source.kind == "gguf":
        return converted_directory(source.path, converted_models)
    return source.path


def base_models() -> list[str]:
    """Base model ids this machine can fine-tune: the presets, the packaged models installed here, and models found in
    the local HF cache."""
    from runner.server.training.models import available_base_models

    return available_base_models()
