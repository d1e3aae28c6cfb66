"""Training throughput of the built-in trainer beside a minimal plain-PyTorch loop on the same model and data.

Both train the `local/tiny` preset (tokenizer and initial weights built once by the trainer) on the Marv examples,
repeated to give enough steps, on the same batches (the trainer's seeded length-grouped shuffle; the trainer packs
them, the plain loop pads them), with
the same torch thread count, in the same process, alternating for a few rounds; the best round of each is compared.
Throughput is tokens per second over the optimizer steps (the first step of each is left out as warm-up); the
built-in trainer's figure includes everything it does between steps (masking, accuracy, metrics, per-epoch
checkpoints). Prints figures; asserts nothing.

    python bench/train_throughput.py [--repeat 8] [--batch-size 4] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from runner.server.training import Checkpoint, StepMetrics, TrainingRequest, resolve_hyperparameters, train
from runner.server.training.batching import epoch_batches
from runner.server.training.runtime import torch_threads

SEED = 0
DATA = Path(__file__).resolve().parents[1] / "tests" / "training" / "data" / "marv.jsonl"


class TimingHooks:
    def __init__(self) -> None:
        self.times: list[float] = []

    def control(self) -> str:
        return "continue"

    def metrics(self, m: StepMetrics) -> None:
        self.times.append(time.perf_counter())

    def checkpoint(self, c: Checkpoint) -> None:
        pass

    def message(self, level: str, text: str) -> None:
        pass


def builtin(train_file: Path, work_dir: Path, n: int, batch_size: int, epochs: int) -> tuple[float, Path]:
    hp = resolve_hyperparameters("local/tiny", "supervised", {"n_epochs": epochs, "batch_size": batch_size}, n)
    hooks = TimingHooks()
    request = TrainingRequest("bench", "local/tiny", "supervised", hp, SEED, train_file, None, work_dir)
    result = train(request, hooks)  # type: ignore[arg-type]
    per_step = result.trained_tokens / result.steps  # every epoch sees the same examples
    elapsed = hooks.times[-1] - hooks.times[0]
    return per_step * (result.steps - 1) / elapsed, work_dir / "base"


def plain(rows: list[dict[str, Any]], base_dir: Path, batch_size: int, epochs: int) -> float:
    """model(input_ids, labels) -> loss.backward -> AdamW step; nothing else."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(torch_threads())
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    batches = []
    for epoch in range(epochs):  # the very batches the built-in trainer forms (same length-grouped shuffle)
        for indices in epoch_batches(lengths, batch_size, SEED, epoch):
            enc = tokenizer([texts[i] for i in indices], padding=True, return_tensors="pt", add_special_tokens=False)
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
            batches.append((enc["input_ids"], enc["attention_mask"], labels, int(enc["attention_mask"].sum())))
    tokens, start = 0, 0.0
    for step, (ids, mask, labels, n_tokens) in enumerate(batches):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step == 0:
            start = time.perf_counter()
        else:
            tokens += n_tokens
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8, help="copies of the 16 examples")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each; the best of each is compared")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()] * args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.jsonl"
        train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        # Alternate the two, several rounds, and keep each one's best: a shared machine's noise then hits both alike.
        ftrun_runs: list[float] = []
        plain_runs: list[float] = []
        for round_ in range(args.rounds):
            tps, base_dir = builtin(train_file, Path(tmp) / f"job-{round_}", len(rows), args.batch_size, args.epochs)
            ftrun_runs.append(tps)
            plain_runs.append(plain(rows, base_dir, args.batch_size, args.epochs))
    ftrun_tps, plain_tps = max(ftrun_runs), max(plain_runs)
    print(f"examples {len(rows)}, batch size {args.batch_size}, epochs {args.epochs}, torch threads {torch_threads()}")
    pairs = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(ftrun_runs, plain_runs, strict=True))
    print(f"runs (built-in/plain tokens/s, alternating): {pairs}")
    print(f"built-in trainer : {ftrun_tps:10.0f} tokens/s (best of {args.rounds})")
    print(f"plain PyTorch    : {plain_tps:10.0f} tokens/s (best of {args.rounds})")
    print(f"ratio            : {ftrun_tps / plain_tps:10.2f}")


if __name__ == "__main__":
    main()
