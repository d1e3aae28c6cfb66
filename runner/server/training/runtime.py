"""Process-wide torch settings: a bounded thread pool (CPU machines are shared), the device and dtype models run in,
and seeding."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

_configured = False


def torch_threads() -> int:
    """Threads for torch's intra-op pool: FTRUN_TORCH_THREADS if set, else half the CPUs this process may use (at
    most 8). Leaving half free matters: when torch's threads must share cores with the server or other work, its
    spinning workers slow a step down several-fold (measured: 92 ms with 1 thread, 600 ms with 2 on a busy 2-core
    machine)."""
    configured = os.environ.get("FTRUN_TORCH_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available // 2))


def configure_torch() -> None:
    global _configured
    if _configured:
        return
    import torch
    from transformers.utils import logging as hf_logging

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Loading a model is quick here and the server's output is a log or a user's terminal: no per-load progress bars.
    hf_logging.disable_progress_bar()
    torch.set_num_threads(torch_threads())
    with contextlib.suppress(RuntimeError):  # already set, or parallel work has started in this process
        torch.set_num_interop_threads(1)
    _configured = True


DEVICE_ENV = "FTRUN_DEVICE"


def device() -> str:
    """Where models train and answer: FTRUN_DEVICE if set (e.g. "cpu", "cuda:1"), else the first CUDA GPU when
    there is one, else the CPU."""
    import torch

    chosen = os.environ.get(DEVICE_ENV, "").strip()
    if chosen:
        return chosen
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_dtype(declared: str | None, on: str) -> Any:
    """The dtype a model's weights load in. On a GPU, what the model's config declares (bf16 only where the GPU
    supports it, else float32). On the CPU always float32: bf16 matrix products are slower than float32 on most CPUs,
    and float32 keeps runs reproducible."""
    import torch

    if not on.startswith("cuda"):
        return torch.float32
    if declared in ("bfloat16", "bf16"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if declared in ("float16", "fp16"):
        return torch.float16
    return torch.float32


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
