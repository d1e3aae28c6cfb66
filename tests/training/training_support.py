"""Test support for the trainers: an in-memory Hooks that records what it is told, and a one-call job runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.server.training import (
    Checkpoint,
    Control,
    StepMetrics,
    TrainingRequest,
    TrainingResult,
    resolve_hyperparameters,
    train,
)


@dataclass
class RecordingHooks:
    # Decides control() from the number of metrics reported so far (i.e. completed steps).
    decide: Callable[[int], Control] = lambda steps: "continue"
    metrics_log: list[StepMetrics] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    polls: int = 0

    def control(self) -> Control:
        self.polls += 1
        return self.decide(len(self.metrics_log))

    def metrics(self, m: StepMetrics) -> None:
        self.metrics_log.append(m)

    def checkpoint(self, c: Checkpoint) -> None:
        self.checkpoints.append(c)

    def message(self, level: str, text: str) -> None:
        self.messages.append((level, text))

    @property
    def losses(self) -> list[float]:
        return [m.train_loss for m in self.metrics_log]


DATA = Path(__file__).resolve().parent / "data"
MARV = DATA / "marv.jsonl"
MARV_PREFERENCES = DATA / "marv_preferences.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_job(
    work_dir: Path,
    *,
    base_model: str = "local/tiny",
    method: str = "supervised",
    training_file: Path = MARV,
    validation_file: Path | None = None,
    requested: dict[str, Any] | None = None,
    seed: int = 42,
    hooks: RecordingHooks | None = None,
    resume_from: Path | None = None,
) -> tuple[TrainingResult, RecordingHooks]:
    n = len(read_jsonl(training_file))
    hyperparameters = resolve_hyperparameters(base_model, method, requested or {}, n)
    request = TrainingRequest(
        job_id="ftjob-test",
        base_model=base_model,
        method=method,  # type: ignore[arg-type]
        hyperparameters=hyperparameters,
        seed=seed,
        training_file=training_file,
        validation_file=validation_file,
        work_dir=work_dir,
        resume_from=resume_from,
    )
    hooks = hooks or RecordingHooks()
    return train(request, hooks), hooks


def build_hf_model_dir(directory: Path, texts: list[str]) -> Path:
    """A small Llama in Hugging Face format, as a user would download one: config + weights + tokenizer files."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<pad>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=1000, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>")
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.2,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory
