"""Real-token throughput of the built-in trainer beside TRL's SFTTrainer (padding-free and packing), side by side.

Same data (the Marv examples, repeated), same number of optimizer steps, same batch size (examples per step; in
TRL's packing mode, rows of packed examples per step), same model weights, device, dtype and torch thread count,
assistant-only loss in all three (TRL: prompt-completion rows, loss on the completion), AdamW, no checkpoints in
TRL's runs (the built-in trainer's per-epoch checkpoints are part of its time). Throughput is real (non-padding)
tokens per second from the start of the first step to the end of the last. Cases: the tiny preset (`local/tiny`,
full training) and SmolLM2-135M-Instruct (the packaged `smollm2-135m-instruct`, LoRA and full). Goal: the built-in
trainer at least 1.0x TRL's better mode. It also prints the share of computed tokens that are padding, for the
old layout (a plain shuffle, padded) and the new ones (length-grouped, packed).

With a CUDA GPU, also the model FLOPs utilisation: 6N FLOPs per token for full training, about 4N for LoRA
(forward 2N, backward through the frozen weights 2N), N the model's parameters, against the GPU's dense bf16 peak
(see gpu_peak.py). Prints figures; asserts nothing.

TRL is no dependency of ftrun: the first run creates a bench environment, `.ftrun/bench-venv`, that sees the
project's own packages (torch, transformers, peft) and adds TRL to them, then runs itself there. By hand:

    python3 -m venv .ftrun/bench-venv
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \\
        > .ftrun/bench-venv/lib/python3.11/site-packages/ftrun-project.pth
    .ftrun/bench-venv/bin/pip install trl==1.16.0

    python bench/trl_compare.py [--cases tiny,smollm2-lora,smollm2-full] [--repeat 8] [--batch-size 4]
        [--smollm2-steps 6] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "training" / "data" / "marv.jsonl"
BENCH_VENV = ROOT / ".ftrun" / "bench-venv"
CACHE = ROOT / ".ftrun" / "bench"
TRL_VERSION = "1.16.0"
SEED = 0
GOAL_RATIO = 1.0
SMOLLM2 = "smollm2-135m-instruct"
LORA_R = 8


def ensure_trl() -> None:
    """Run under the bench environment with TRL, creating it first when needed."""
    try:
        import trl  # noqa: F401

        return
    except ImportError:
        pass
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {BENCH_VENV} with trl=={TRL_VERSION} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        pth = BENCH_VENV / "lib" / version / "site-packages" / "ftrun-project.pth"
        pth.write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n", encoding="utf-8")
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"trl=={TRL_VERSION}"], check=True)
    os.execv(str(python), [str(python), *sys.argv])


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # what the built-in trainer is asked for
    lora: bool
    examples: int  # one epoch over this many of the rows: examples / batch size steps


@dataclass(frozen=True)
class Run:
    tokens: int  # real tokens over the timed steps
    seconds: float
    steps: int

    @property
    def per_second(self) -> float:
        return self.tokens / self.seconds


class TimingHooks:
    def __init__(self) -> None:
        self.started: float | None = None
        self.ended = 0.0

    def control(self) -> str:
        if self.started is None:
            self.started = time.perf_counter()
        return "continue"

    def metrics(self, m: Any) -> None:
        self.ended = time.perf_counter()

    def checkpoint(self, c: Any) -> None:
        pass

    def message(self, level: str, text: str) -> None:
        pass


def builtin(case: Case, train_file: Path, n: int, batch_size: int, work: Path) -> Run:
    from runner.server.training import TrainingRequest, resolve_hyperparameters, train

    requested: dict[str, Any] = {"n_epochs": 1, "batch_size": batch_size}
    if case.lora:
        requested |= {"lora": True, "lora_r": LORA_R}
    hp = resolve_hyperparameters(case.model, "supervised", requested, n)
    hooks = TimingHooks()
    request = TrainingRequest("bench", case.model, "supervised", hp, SEED, train_file, None, work, None, CACHE)
    result = train(request, hooks)  # type: ignore[arg-type]
    assert hooks.started is not None
    return Run(result.trained_tokens, hooks.ended - hooks.started, result.steps)


def start_model(case: Case, train_file: Path, work: Path) -> Path:
    """The directory the built-in trainer started from (for the preset: the tokenizer and weights it built)."""
    from runner.server.training.examples import chat_texts, load_chat_examples
    from runner.server.training.model_setup import start_directory

    directory, _ = start_directory(case.model, chat_texts(load_chat_examples(train_file)), SEED, work, CACHE)
    return directory


def token_lengths(tokenizer: Any, rows: list[dict[str, Any]]) -> list[int]:
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def trl_run(
    case: Case,
    start_dir: Path,
    rows: list[dict[str, Any]],
    batch_size: int,
    steps: int,
    mode: str,
    out: Path,
    lr: float,
) -> Run:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from runner.server.training.models import load_model, load_tokenizer
    from runner.server.training.runtime import device

    torch.manual_seed(SEED)
    model, tokenizer = load_model(start_dir), load_tokenizer(start_dir)
    dataset = Dataset.from_list(
        [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]  # assistant-only loss
    )
    peft_config = None
    if case.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=LORA_R, lora_alpha=2 * LORA_R, target_modules="all-linear", task_type="CAUSAL_LM")
    args = SFTConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="linear",
        warmup_steps=1,
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=1_000_000,
        save_strategy="no",
        report_to=[],
        seed=SEED,
        data_seed=SEED,
        dataloader_num_workers=0,
        padding_free=mode == "padding-free",
        packing=mode == "packing",
        max_length=max(token_lengths(tokenizer, rows)) if mode == "packing" else None,  # rows of the longest example
        use_cpu=not device().startswith("cuda"),
        bf16=False,
        fp16=False,
        disable_tqdm=True,
    )

    class Timing(TrainerCallback):
        started: float | None = None
        ended = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.started is None:
                self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.ended = time.perf_counter()

    class Counting(SFTTrainer):  # type: ignore[misc]
        real_tokens = 0

        def training_step(self, model: Any, inputs: dict[str, Any], *rest: Any, **kw: Any) -> Any:
            mask = inputs.get("attention_mask")
            self.real_tokens += int(mask.sum()) if mask is not None else int(inputs["input_ids"].numel())
            return super().training_step(model, inputs, *rest, **kw)

    timing = Timing()
    trainer = Counting(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[timing],
    )
    trainer.train()
    assert timing.started is not None
    return Run(trainer.real_tokens, timing.ended - timing.started, trainer.state.global_step)


def padding_shares(start_dir: Path, rows: list[dict[str, Any]], batch_size: int) -> dict[str, float]:
    """Share of computed token positions that are padding, over one epoch, per layout."""
    from runner.server.training.batching import epoch_batches
    from runner.server.training.models import load_tokenizer

    tokenizer = load_tokenizer(start_dir)
    lengths = token_lengths(tokenizer, rows)
    order = list(range(len(rows)))
    random.Random(f"{SEED}:0").shuffle(order)
    plain = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    grouped = epoch_batches(lengths, batch_size, SEED, 0)

    def share(batches: list[list[int]]) -> float:
        computed = sum(max(lengths[i] for i in b) * len(b) for b in batches)
        return 1 - sum(lengths) / computed

    return {"plain shuffle, padded": share(plain), "length-grouped, padded": share(grouped), "packed": 0.0}


def parameters(start_dir: Path) -> int:
    from runner.server.training.models import load_model

    return sum(p.numel() for p in load_model(start_dir).parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="tiny,smollm2-lora,smollm2-full")
    parser.add_argument("--repeat", type=int, default=8, help="copies of the 16 examples")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of each; the best of each is compared")
    parser.add_argument("--smollm2-steps", type=int, default=6, help="SmolLM2 runs one epoch of this many batches")
    args = parser.parse_args()
    ensure_trl()
    from runner.server.training.hyperparameters import base_learning_rate
    from runner.server.training.runtime import configure_torch, device, torch_threads

    configure_torch()
    from gpu_peak import gpu_peak  # bench/ is on the path when a bench runs

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()] * args.repeat
    cases = {
        "tiny": Case("tiny (full)", "local/tiny", False, len(rows)),
        "smollm2-lora": Case("SmolLM2-135M LoRA", SMOLLM2, True, args.smollm2_steps * args.batch_size),
        "smollm2-full": Case("SmolLM2-135M full", SMOLLM2, False, args.smollm2_steps * args.batch_size),
    }
    chosen = [cases[c] for c in args.cases.split(",")]
    peak = gpu_peak()
    print(f"examples {len(rows)}, batch size {args.batch_size}, device {device()}, torch threads {torch_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for number, case in enumerate(chosen):
            work = Path(tmp) / f"case-{number}"
            work.mkdir()
            data = rows[: case.examples]
            train_file = work / "train.jsonl"
            train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
            # Alternate the three, round after round, and keep each one's best: a shared machine's noise then
            # hits all of them alike.
            ours_runs: list[Run] = []
            theirs_runs: dict[str, list[Run]] = {"padding-free": [], "packing": []}
            for round_ in range(args.rounds):
                ours_runs.append(builtin(case, train_file, len(data), args.batch_size, work / f"ftrun-{round_}"))
                start_dir = start_model(case, train_file, work / "ftrun-0")
                n_params = parameters(start_dir)
                lr = base_learning_rate(case.model, case.lora, n_params)
                steps = ours_runs[0].steps
                for mode, runs in theirs_runs.items():
                    runs.append(trl_run(case, start_dir, data, args.batch_size, steps, mode, work / mode, lr))
            ours = max(ours_runs, key=lambda r: r.per_second)
            theirs = {mode: max(runs, key=lambda r: r.per_second) for mode, runs in theirs_runs.items()}
            best = max(theirs.values(), key=lambda r: r.per_second)
            print(f"\n{case.name}: {len(data)} examples, {ours.steps} steps each, best of {args.rounds}")
            if number == 0:
                for layout, share in padding_shares(start_dir, data, args.batch_size).items():
                    print(f"  padding share of computed tokens, {layout:24s}: {share:6.1%}")
            print(
                f"  ftrun              : {ours.per_second:10.0f} real tokens/s ({ours.tokens} in {ours.seconds:.1f} s)"
            )
            for mode, run in theirs.items():
                label = f"TRL {mode}"
                print(f"  {label:19s}: {run.per_second:10.0f} real tokens/s ({run.tokens} in {run.seconds:.1f} s)")
            ratio = ours.per_second / best.per_second
            verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
            print(f"  ftrun / TRL's best : {ratio:10.2f}x  (goal >= {GOAL_RATIO:.1f}x: {verdict})")
            if peak is not None:
                name, flops_peak = peak
                per_token = (4 if case.lora else 6) * n_params
                for label, run in (("ftrun", ours), *((f"TRL {m}", r) for m, r in theirs.items())):
                    achieved = per_token * run.per_second
                    mfu = f"{achieved / flops_peak:6.1%}" if flops_peak else "unknown peak"
                    print(f"  MFU {label:15s}: {mfu} of {name} ({achieved / 1e12:.2f} TFLOP/s)")


if __name__ == "__main__":
    main()
