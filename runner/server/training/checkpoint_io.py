"""Checkpoint directories: a loadable model (full weights or a LoRA adapter) plus everything needed to resume.

Layout: the model's `save_pretrained` files, the tokenizer (with its chat template), `trainer_state.json` (step,
epoch, tokens, what the weights sit on) and `optimizer.pt` (optimizer, scheduler and RNG states). `generate` reads
only the first two; `train` reads all of them when a job resumes.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"


@dataclass
class TrainerState:
    job_id: str
    method: str
    base_dir: str  # the full-weight model directory this run started from (an adapter's base)
    lora: bool
    step: int
    total_steps: int
    steps_per_epoch: int
    trained_tokens: int
    seed: int
    reference_logps: list[list[float]] = field(default_factory=list)  # DPO: frozen reference, per example
    valid_reference_logps: list[list[float]] = field(default_factory=list)


def save_model(directory: Path, model: Any, tokenizer: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))


def save_checkpoint(
    directory: Path, model: Any, tokenizer: Any, state: TrainerState, optimizer: Any, scheduler: Any
) -> Path:
    """Write the checkpoint to a temporary sibling, then rename it into place, so a crash never leaves half of one."""
    import torch

    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(tmp, model, tokenizer)
    (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        },
        tmp / OPTIMIZER_FILE,
    )
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def read_state(directory: Path) -> TrainerState:
    data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    return TrainerState(**data)


def restore_training_state(directory: Path, optimizer: Any, scheduler: Any) -> None:
    import torch

    saved = torch.load(directory / OPTIMIZER_FILE, weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    random.setstate(saved["python_rng"])
