"""Training one job on several processes: PyTorch's own launcher (torch.distributed.run) and DDP.

`FTRUN_TRAIN_PROCESSES` (set by `ftrun serve --train-processes N`) asks for N processes per job; 1 (the default)
trains in the worker itself. With N > 1 the job's trainer thread runs
`python -m torch.distributed.run --standalone --nproc-per-node N -m runner.server.training.distributed_rank` and
stays the job's link to the server: rank 0 writes the job's events (metrics, checkpoints, messages) to a file that
the thread forwards to the job's hooks, and the thread writes the server's control word (continue, pause, cancel)
to a file that rank 0 reads before each step and broadcasts, so every rank stops at the same step.

Each rank trains on its share of every step's batch (the same global batch, the same seeded order); its loss is
weighted by its share of the batch's labelled tokens, so DDP's averaged gradients are exactly those of one process
on the whole batch. Backend: nccl on CUDA GPUs (rank i on GPU i), gloo on the CPU. Supervised jobs only; DPO jobs
train in one process. The processes never outnumber the batch size.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner.server.training import (
    Checkpoint,
    Control,
    Hooks,
    StepMetrics,
    TrainingFailed,
    TrainingRequest,
    TrainingResult,
)

PROCESSES_ENV = "FTRUN_TRAIN_PROCESSES"
POLL_SECONDS = 0.2


def requested_processes() -> int:
    value = os.environ.get(PROCESSES_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def processes_for(batch_size: int) -> int:
    """Processes a job trains on: as many as asked for, but no more than its batch size, nor than the GPUs when it
    trains on GPUs (one each)."""
    import torch

    from runner.server.training.runtime import DEVICE_ENV

    n = min(requested_processes(), batch_size)
    if torch.cuda.is_available() and not os.environ.get(DEVICE_ENV, "").startswith("cpu"):
        n = min(n, torch.cuda.device_count())
    return max(1, n)


# -- inside the ranks ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    rank: int
    world: int

    def share(self, indices: Sequence[int]) -> list[int]:
        """This rank's part of a step's batch."""
        return list(indices[self.rank :: self.world])

    def sum(self, *values: float) -> list[float]:
        import torch
        import torch.distributed as dist

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return [float(v) for v in t.tolist()]

    def broadcast(self, word: str) -> str:
        import torch.distributed as dist

        box = [word]
        dist.broadcast_object_list(box, src=0)
        return str(box[0])

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()


def current() -> Group | None:
    """The process group this process trains in, or None when it trains alone."""
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return None
    return Group(dist.get_rank(), dist.get_world_size())


def is_main() -> bool:
    group = current()
    return group is None or group.rank == 0


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 does the work first (e.g. building a preset into the job's directory); the others then reuse it."""
    group = current()
    if group is not None and group.rank != 0:
        group.barrier()
    yield
    if group is not None and group.rank == 0:
        group.barrier()


class RankHooks:
    """Hooks for every rank: rank 0 reports through the job's hooks and decides control for all ranks."""

    def __init__(self, hooks: Hooks | None, group: Group) -> None:
        self.hooks, self.group = hooks, group

    def control(self) -> Control:
        word = self.hooks.control() if self.hooks is not None else "continue"
        return self.group.broadcast(word)  # type: ignore[return-value]

    def metrics(self, m: StepMetrics) -> None:
        if self.hooks is not None:
            self.hooks.metrics(m)

    def checkpoint(self, c: Checkpoint) -> None:
        if self.hooks is not None:
            self.hooks.checkpoint(c)

    def message(self, level: Any, text: str) -> None:
        if self.hooks is not None:
            self.hooks.message(level, text)


class FileHooks:
    """Rank 0's side of the link to the job's thread: events appended to a file, control read from one. If the
    process that launched the ranks (the job worker) is gone, the ranks cancel: a worker that starts again resumes
    the job from its last checkpoint, and must not find it still training."""

    def __init__(self, directory: Path) -> None:
        self.events = directory / "events.jsonl"
        self.control_file = directory / "control"
        self.owner = int((directory / "owner").read_text(encoding="utf-8"))

    def _write(self, event: dict[str, Any]) -> None:
        with self.events.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event, default=str) + "\n")

    def control(self) -> Control:
        try:
            os.kill(self.owner, 0)
        except ProcessLookupError:
            return "cancel"
        except PermissionError:  # alive, under another user
            pass
        try:
            word = self.control_file.read_text(encoding="utf-8").strip()
        except OSError:
            return "continue"
        return word if word in ("continue", "pause", "cancel") else "continue"  # type: ignore[return-value]

    def metrics(self, m: StepMetrics) -> None:
        self._write({"kind": "metrics", **asdict(m)})

    def checkpoint(self, c: Checkpoint) -> None:
        self._write({"kind": "checkpoint", "step": c.step, "epoch": c.epoch, "path": str(c.path), **_m(c.metrics)})

    def message(self, level: Any, text: str) -> None:
        self._write({"kind": "message", "level": level, "text": text})


def _m(metrics: StepMetrics) -> dict[str, Any]:
    return {"metrics": asdict(metrics)}


# -- the job's thread ----------------------------------------------------------------------------------------------
def write_request(request: TrainingRequest, path: Path) -> None:
    fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(request).items()}
    fields["hyperparameters"] = dict(request.hyperparameters)
    path.write_text(json.dumps(fields), encoding="utf-8")


def read_request(path: Path) -> TrainingRequest:
    fields = json.loads(path.read_text(encoding="utf-8"))
    for key in ("training_file", "validation_file", "work_dir", "resume_from", "converted_models"):
        if fields.get(key) is not None:
            fields[key] = Path(fields[key])
    return TrainingRequest(**fields)


def _forward(line: str, hooks: Hooks) -> None:
    event = json.loads(line)
    kind = event.pop("kind")
    if kind == "metrics":
        hooks.metrics(StepMetrics(**event))
    elif kind == "checkpoint":
        metrics = StepMetrics(**event["metrics"])
        hooks.checkpoint(Checkpoint(event["step"], event["epoch"], Path(event["path"]), metrics))
    elif kind == "message":
        hooks.message(event["level"], event["text"])


def launch(request: TrainingRequest, hooks: Hooks, processes: int) -> TrainingResult:
    """Train `request` on `processes` processes through torch.distributed.run; returns what rank 0 reports."""
    link = request.work_dir / "processes"
    link.mkdir(parents=True, exist_ok=True)
    for stale in ("events.jsonl", "control", "result.json", "failure.json"):
        (link / stale).unlink(missing_ok=True)
    write_request(request, link / "request.json")
    (link / "owner").write_text(str(os.getpid()), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "runner.server.training.distributed_rank",
        str(link),
    ]
    hooks.message("info", f"Training on {processes} processes")
    with (link / "log.txt").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        read, said = 0, "continue"
        try:
            while True:
                done = proc.poll() is not None
                read = _drain(link / "events.jsonl", read, hooks)
                if done:
                    break
                word = hooks.control()
                if word != said:
                    (link / "control.tmp").write_text(word, encoding="utf-8")
                    (link / "control.tmp").replace(link / "control")
                    said = word
                time.sleep(POLL_SECONDS)
        finally:
            if proc.poll() is None:  # the thread itself is going away: take the processes with it
                proc.terminate()
                proc.wait(timeout=30)
    if (link / "failure.json").is_file():
        failure = json.loads((link / "failure.json").read_text(encoding="utf-8"))
        raise TrainingFailed(failure["code"], failure["message"], failure.get("param"))
    if not (link / "result.json").is_file():
        tail = (link / "log.txt").read_text(encoding="utf-8", errors="replace")[-2000:]
        raise TrainingFailed("server_error", f"The training processes exited with status {proc.returncode}: {tail}")
    result = json.loads((link / "result.json").read_text(encoding="utf-8"))
    return TrainingResult(
        result["status"],
        Path(result["model_dir"]) if result["model_dir"] else None,
        result["trained_tokens"],
        result["steps"],
        Path(result["checkpoint_dir"]) if result["checkpoint_dir"] else None,
    )


def _drain(events: Path, offset: int, hooks: Hooks) -> int:
    try:
        with events.open("r", encoding="utf-8") as f:
            f.seek(offset)
            while True:
                line = f.readline()
                if not line.endswith("\n"):
                    return offset  # nothing more, or a line still being written
                _forward(line, hooks)
                offset = f.tell()
    except FileNotFoundError:
        return offset
