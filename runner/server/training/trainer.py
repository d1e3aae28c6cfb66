"""Running one fine-tuning job: read the data, prepare the model, run the loop, write the result.

Supervised jobs train on the assistant messages of OpenAI chat JSONL (an assistant message with `weight: 0` is context
only). DPO jobs train on OpenAI's preference format against a frozen reference: the starting model, whose
sequence log-probabilities are computed once before the first step (with LoRA, the starting model is the base the
adapter sits on, so no second copy of the weights is ever held).

DPO from a preset: `local/tiny` starts with random weights, which cannot express a preference. A DPO job on it first
builds the tokenizer from the data, then runs a supervised warm-up on each prompt with *both* of its outputs (same
epochs and batch size as the job, preset learning rate), so the reference model can write either answer and any
preference the final model shows comes from DPO alone. Pause is honoured from the first DPO step; cancel also
during the warm-up. To DPO-train a model fine-tuned earlier instead, pass its directory as `base_model`.

`trained_tokens` counts every token of every sequence processed (prompt and completion, all epochs), as OpenAI
bills them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.server.training import Hooks, TrainingFailed, TrainingRequest, TrainingResult, distributed
from runner.server.training.checkpoint_io import TrainerState, read_state, save_model
from runner.server.training.encoding import Encoded, encode_chat
from runner.server.training.examples import (
    ChatExample,
    PreferenceExample,
    chat_texts,
    load_chat_examples,
    load_preference_examples,
    preference_texts,
)
from runner.server.training.hyperparameters import Settings, base_learning_rate, settings
from runner.server.training.model_setup import count_parameters, load_trainable, start_directory
from runner.server.training.models import max_length
from runner.server.training.objectives import (
    EncodedPair,
    PreferenceObjective,
    SupervisedObjective,
    reference_logps,
)
from runner.server.training.packing import keeps_packed_examples_apart
from runner.server.training.presets import get_preset
from runner.server.training.runtime import configure_torch, seed_everything
from runner.server.training.training_loop import LoopConfig, LoopOutcome, run


def train(request: TrainingRequest, hooks: Hooks) -> TrainingResult:
    configure_torch()
    config = settings(request.method, request.hyperparameters)
    request.work_dir.mkdir(parents=True, exist_ok=True)
    if request.method == "supervised" and distributed.current() is None and distributed.requested_processes() > 1:
        processes = distributed.processes_for(config.batch_size)
    else:
        processes = 1
    if processes > 1:
        return distributed.launch(request, hooks, processes)
    if request.method == "supervised":
        return _supervised(request, hooks, config)
    return _dpo(request, hooks, config)


def _encode_chats(tokenizer: Any, examples: list[ChatExample], limit: int) -> list[Encoded]:
    return [encode_chat(tokenizer, ex.messages, ex.trained, limit) for ex in examples]


def _encode_pairs(tokenizer: Any, examples: list[PreferenceExample], limit: int) -> list[EncodedPair]:
    def one(ex: PreferenceExample, output: dict[str, str]) -> Encoded:
        messages = (*ex.prompt, output)
        return encode_chat(tokenizer, messages, [False] * len(ex.prompt) + [True], limit)

    return [EncodedPair(one(ex, ex.preferred), one(ex, ex.non_preferred)) for ex in examples]


def _sequence_limit(model: Any, config: Settings) -> int:
    limit = max_length(model)
    return min(limit, config.max_seq_length) if config.max_seq_length is not None else limit


def _prepare(model: Any, config: Settings) -> None:
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _learning_rate(request: TrainingRequest, config: Settings, model: Any) -> float:
    parameters = count_parameters(model)
    return base_learning_rate(request.base_model, config.lora is not None, parameters) * config.learning_rate_multiplier


def _loop_config(request: TrainingRequest, config: Settings, learning_rate: float) -> LoopConfig:
    return LoopConfig(
        n_epochs=config.n_epochs,
        batch_size=config.batch_size,
        learning_rate=learning_rate,
        seed=request.seed,
        checkpoint_root=request.work_dir / "checkpoints",
    )


def _resume_state(request: TrainingRequest) -> TrainerState | None:
    if request.resume_from is None:
        return None
    try:
        state = read_state(request.resume_from)
    except (OSError, ValueError, TypeError) as exc:
        raise TrainingFailed("invalid_checkpoint", f"Cannot resume from {request.resume_from}: {exc}") from exc
    if state.method != request.method:
        raise TrainingFailed("invalid_checkpoint", f"{request.resume_from} belongs to a {state.method} job")
    return state


def _finish(request: TrainingRequest, outcome: LoopOutcome, model: Any, tokenizer: Any) -> TrainingResult:
    state = outcome.state
    if outcome.status != "succeeded":
        return TrainingResult(outcome.status, None, state.trained_tokens, state.step, outcome.pause_checkpoint)
    model_dir = request.work_dir / "model"
    if distributed.is_main():
        save_model(model_dir, model, tokenizer)
    return TrainingResult("succeeded", model_dir, state.trained_tokens, state.step)


def _supervised(request: TrainingRequest, hooks: Hooks, config: Settings) -> TrainingResult:
    examples = load_chat_examples(request.training_file)
    valid = load_chat_examples(request.validation_file, "validation_file") if request.validation_file else []
    resumed = _resume_state(request)
    if resumed is not None:
        start_dir = Path(resumed.base_dir)
    else:
        with distributed.main_first():
            start_dir, _ = start_directory(
                request.base_model, chat_texts(examples), request.seed, request.work_dir, request.converted_models
            )
    seed_everything(request.seed)
    model, tokenizer = load_trainable(start_dir, config.lora, request.resume_from)
    _prepare(model, config)
    limit = _sequence_limit(model, config)
    pack = keeps_packed_examples_apart(model, tokenizer.pad_token_id)
    objective = SupervisedObjective(
        _encode_chats(tokenizer, examples, limit), _encode_chats(tokenizer, valid, limit), tokenizer.pad_token_id, pack
    )
    if sum(e.trained_tokens for e in objective.train) == 0:
        raise TrainingFailed(
            "invalid_training_file", "No example has an assistant message to train on", "training_file"
        )
    state = resumed or TrainerState(
        request.job_id, "supervised", str(start_dir), config.lora is not None, 0, 0, 0, 0, request.seed
    )
    loop = _loop_config(request, config, _learning_rate(request, config, model))
    layout = "packed" if pack else "length-grouped, padded"
    hooks.message("info", f"Training on {len(examples)} examples for {config.n_epochs} epochs ({layout} batches)")
    outcome = run(model, tokenizer, objective, loop, hooks, state, request.resume_from)
    return _finish(request, outcome, model, tokenizer)


def _dpo(request: TrainingRequest, hooks: Hooks, config: Settings) -> TrainingResult:
    assert config.beta is not None
    examples = load_preference_examples(request.training_file)
    valid = load_preference_examples(request.validation_file, "validation_file") if request.validation_file else []
    resumed = _resume_state(request)
    if resumed is not None:
        start_dir = Path(resumed.base_dir)
    else:
        start_dir, fresh_preset = start_directory(
            request.base_model, preference_texts(examples), request.seed, request.work_dir, request.converted_models
        )
        if fresh_preset:
            warmed = _warm_up(request, hooks, config, start_dir, examples)
            if warmed is None:
                return TrainingResult("cancelled", None, 0, 0)
            start_dir = warmed
    seed_everything(request.seed)
    model, tokenizer = load_trainable(start_dir, config.lora, request.resume_from)
    _prepare(model, config)
    limit = _sequence_limit(model, config)
    pairs, valid_pairs = _encode_pairs(tokenizer, examples, limit), _encode_pairs(tokenizer, valid, limit)
    if resumed is not None:
        state = resumed
    else:
        state = TrainerState(request.job_id, "dpo", str(start_dir), config.lora is not None, 0, 0, 0, 0, request.seed)
        # The reference is the starting model itself, scored before the first step: full weights are untouched and
        # a fresh LoRA adapter is a no-op (its B matrix starts at zero), so no second copy of the weights is held.
        model.eval()
        state.reference_logps = reference_logps(model, pairs, tokenizer.pad_token_id)
        state.valid_reference_logps = reference_logps(model, valid_pairs, tokenizer.pad_token_id)
        model.train()
    objective = PreferenceObjective(
        pairs, valid_pairs, state.reference_logps, state.valid_reference_logps, config.beta, tokenizer.pad_token_id
    )
    loop = _loop_config(request, config, _learning_rate(request, config, model))
    hooks.message("info", f"DPO on {len(examples)} preference pairs for {config.n_epochs} epochs, beta {config.beta}")
    outcome = run(model, tokenizer, objective, loop, hooks, state, request.resume_from)
    return _finish(request, outcome, model, tokenizer)


class _CancelOnly:
    """Hooks for the preset warm-up: forwards cancel, keeps the job's metrics and checkpoints for the DPO run."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.cancelled = False

    def control(self) -> Any:
        if self.hooks.control() == "cancel":
            self.cancelled = True
            return "cancel"
        return "continue"

    def metrics(self, m: Any) -> None:
        pass

    def checkpoint(self, c: Any) -> None:
        pass

    def message(self, level: Any, text: str) -> None:
        self.hooks.message(level, text)


def _warm_up(
    request: TrainingRequest, hooks: Hooks, config: Settings, preset_dir: Path, examples: list[PreferenceExample]
) -> Path | None:
    """Supervised warm-up of a fresh preset on both outputs of each pair; returns the warmed model's directory."""
    target = request.work_dir / "dpo-start"
    if (target / "config.json").is_file():
        return target
    preset = get_preset(request.base_model)
    assert preset is not None
    chats = [
        ChatExample((*ex.prompt, out), (False,) * len(ex.prompt) + (True,))
        for ex in examples
        for out in (ex.preferred, ex.non_preferred)
    ]
    seed_everything(request.seed)
    model, tokenizer = load_trainable(preset_dir, None, None)
    objective = SupervisedObjective(_encode_chats(tokenizer, chats, max_length(model)), [], tokenizer.pad_token_id)
    loop = LoopConfig(config.n_epochs, config.batch_size, preset.base_learning_rate, request.seed, None)
    state = TrainerState(request.job_id, "supervised", str(preset_dir), False, 0, 0, 0, 0, request.seed)
    hooks.message("info", f"Warm-up: supervised training of {request.base_model} on both outputs of each pair")
    outcome = run(model, tokenizer, objective, loop, _CancelOnly(hooks), state)
    if outcome.status == "cancelled":
        return None
    save_model(target, model, tokenizer)
    return target
