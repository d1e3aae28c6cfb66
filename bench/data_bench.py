"""Benchmark of the data layer: cold validation + token counting, peak memory, and a warm plan over cached data.

Generates its own data (chat examples in English and Chinese) under a scratch folder and prints:

1. cold validation + counting of one big file: ftrun's streaming scan in one process (one core) and in its
   parallel mode on two worker processes (two cores), against a straightforward single-process version of the
   cookbook notebook's algorithm (json.loads of every line, then an `encode` per message value); each run in a
   fresh subprocess, the three alternating, the fastest of each kept (the machine may be shared), with time, peak
   memory, the ratios beside their goals, and the load average before and after; beside them, how many cores the
   machine actually gave (a pure-Python loop run alone, then once per core at the same time), since a shared or
   virtual machine's "two cores" may deliver much less than two;
2. a warm plan: 200 experiments sharing 20 data files, prepared once cold (filling the cache) and then again in
   a fresh process, which must not read the data again.

Defaults finish in a few minutes on 2 cores; `--full` selects the issue's sizes (a 500 MB file; 20 files of 2 GB
in all). Nothing is asserted: the figures are printed.

    python bench/data_bench.py [--big-mb 60] [--files 20] [--files-mb 40] [--experiments 200] [--repeat 2] [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = "gpt-4.1-mini-2025-04-14"

_WORDS = [
    "model",
    "data",
    "token",
    "cost",
    "plan",
    "apply",
    "budget",
    "epoch",
    "train",
    "validate",
    "template",
    "record",
    "cache",
    "file",
    "line",
    "check",
    "answer",
    "question",
    "support",
    "customer",
    "order",
    "refund",
    "shipping",
    "account",
    "password",
    "reset",
    "invoice",
    "delivery",
]
_HANZI = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    "同工也能下过子说产种面而方后多定行学法所民得经"
)


def _sentence(rng: random.Random, words: int) -> str:
    if rng.random() < 0.25:
        return "".join(rng.choice(_HANZI) for _ in range(words * 2)) + "。"
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + rng.choice(".?!")


def generate(path: Path, target_bytes: int, seed: int) -> int:
    """A JSONL file of about target_bytes of chat examples (about 1 KB each); returns the example count."""
    rng = random.Random(seed)
    pool = [_sentence(rng, rng.randint(4, 40)) for _ in range(2_000)]
    written = 0
    n = 0
    with path.open("wb", buffering=1 << 20) as f:
        while written < target_bytes:
            turns = [{"role": "system", "content": "You are a helpful support agent."}]
            for _ in range(rng.randint(1, 3)):
                turns.append({"role": "user", "content": f"#{n} " + " ".join(rng.choices(pool, k=rng.randint(1, 4)))})
                turns.append({"role": "assistant", "content": " ".join(rng.choices(pool, k=rng.randint(1, 6)))})
            line = json.dumps({"messages": turns}, ensure_ascii=False).encode() + b"\n"
            f.write(line)
            written += len(line)
            n += 1
    return n


# --- the notebook's algorithm, written out plainly (the baseline) ----------------------------------------------


def notebook_scan(path: Path, encoding: str) -> dict[str, Any]:
    from runner.datasets.token_reference import official

    enc = official(encoding)  # tiktoken, as the notebook's users run it
    with path.open(encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]
    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    def num_tokens(messages: list[dict[str, Any]]) -> int:
        n = 0
        for message in messages:
            n += 3
            for key, value in message.items():
                n += len(enc.encode(value))
                if key == "name":
                    n += 1
        return n + 3

    def num_assistant_tokens(messages: list[dict[str, Any]]) -> int:
        return sum(len(enc.encode(m["content"])) for m in messages if m["role"] == "assistant")

    convo_lens = [num_tokens(ex["messages"]) for ex in dataset]
    assistant_lens = [num_assistant_tokens(ex["messages"]) for ex in dataset]
    return {"examples": len(dataset), "tokens": sum(convo_lens), "assistant": sum(assistant_lens)}


def ftrun_scan(path: Path, encoding: str, workers: int | None = None) -> dict[str, Any]:
    from runner.datasets.scan import scan_file

    # workers=2 takes the parallel mode whatever the file's size
    res = scan_file(path, "supervised", encoding, 65_536, workers=workers, parallel_min_bytes=0)
    return {"examples": res.examples, "tokens": res.total_tokens, "assistant": res.assistant_tokens}


def warm_plan(root: Path, cache_dir: Path, files: list[str], experiments: int) -> dict[str, Any]:
    from runner.datasets import DataSpec, prepare

    t = time.perf_counter()
    errors = 0
    for i in range(experiments):
        spec = DataSpec(path=files[i % len(files)])
        prepared = prepare(
            spec, None, root=root, cache_dir=cache_dir, experiment=f"exp-{i}", model=MODEL, method="supervised"
        )
        errors += sum(1 for d in prepared.diagnostics if d.severity == "error")
    return {"seconds": time.perf_counter() - t, "errors": errors}


# --- running a measurement in a fresh process -------------------------------------------------------------------


def child(argv: list[str]) -> None:
    kind, *args = argv
    t = time.perf_counter()
    if kind == "notebook":
        out = notebook_scan(Path(args[0]), "o200k_base")
    elif kind == "ftrun":
        out = ftrun_scan(Path(args[0]), "o200k_base")
    elif kind == "ftrun-1":
        out = ftrun_scan(Path(args[0]), "o200k_base", workers=1)
    elif kind == "ftrun-2":
        out = ftrun_scan(Path(args[0]), "o200k_base", workers=2)
    elif kind == "spin":
        x = 0
        for i in range(SPIN_STEPS):
            x += i
        out = {}
    elif kind == "plan":
        root, cache_dir, n = Path(args[0]), Path(args[1]), int(args[2])
        files = sorted(str(p.relative_to(root)) for p in (root / "data").glob("*.jsonl"))
        out = warm_plan(root, cache_dir, files, n)
    else:
        raise SystemExit(f"unknown measurement {kind}")
    out["wall"] = time.perf_counter() - t
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_mb"] = max(own, workers) / 1024  # ru_maxrss is in KiB on Linux
    print(json.dumps(out))


def measure(*argv: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *argv], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


SPIN_STEPS = 10_000_000  # a pure-Python loop of about half a second


def cores_delivered(cores: int, rounds: int = 3) -> tuple[float, float, float]:
    """How many cores `cores` processes running at once really get: (cores delivered, seconds alone, seconds
    side by side), the fastest of a few rounds."""
    alone = min(measure("spin")["wall"] for _ in range(rounds))
    together = float("inf")
    for _ in range(rounds):
        with ThreadPoolExecutor(cores) as pool:
            together = min(together, max(r["wall"] for r in pool.map(lambda _: measure("spin"), range(cores))))
    return cores * alone / together, alone, together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big-mb", type=float, default=60, help="size of the file for the cold comparison")
    parser.add_argument("--files", type=int, default=20, help="data files shared by the experiments")
    parser.add_argument("--files-mb", type=float, default=40, help="total size of those files")
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating runs of each side; the fastest counts (shared machines)"
    )
    parser.add_argument("--full", action="store_true", help="the issue's sizes: 500 MB, and 20 files of 2 GB")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.full:
        args.big_mb, args.files_mb = 500, 2048
    scratch = args.dir or Path(tempfile.mkdtemp(prefix="ftrun-bench-"))
    try:
        run(args, scratch)
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    from runner.datasets.scan import worker_count

    cores = worker_count()
    print(f"ftrun data benchmark: {cores} core(s), python {sys.version.split()[0]}, scratch {scratch}")
    if cores > 1:
        delivered, alone, together = cores_delivered(cores)
        print(
            f"   cores delivered: {delivered:.2f} of {cores} (a pure-Python loop: {alone:.2f} s alone, "
            f"{together:.2f} s with {cores} at once)"
        )
    root = scratch / "ws"
    (root / "data").mkdir(parents=True, exist_ok=True)

    big = scratch / "big.jsonl"
    t = time.perf_counter()
    n = generate(big, int(args.big_mb * 2**20), seed=1)
    size_mb = big.stat().st_size / 2**20
    print(f"\n1. Cold validation + token counting of one file: {size_mb:,.0f} MB, {n:,} examples")
    print(f"   (generated in {time.perf_counter() - t:.1f} s)")
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"notebook": [], "ftrun-1": [], "ftrun-2": []}
    for _ in range(max(1, args.repeat)):
        for kind, results in runs.items():
            results.append(measure(kind, str(big)))
    load_after = os.getloadavg()
    best = {kind: min(results, key=lambda r: r["wall"]) for kind, results in runs.items()}
    base = best["notebook"]
    print("   runs in seconds, alternating (notebook / ftrun 1 core / ftrun 2 cores):")
    for i in range(len(runs["notebook"])):
        print("     " + " / ".join(f"{runs[kind][i]['wall']:.2f}" for kind in runs))
    print(
        f"   load average before {load_before[0]:.2f} (5 min {load_before[1]:.2f}), "
        f"after {load_after[0]:.2f} (5 min {load_after[1]:.2f}); the fastest run of each below"
    )
    labels = {
        "notebook": "notebook algorithm, 1 process",
        "ftrun-1": "ftrun scan, 1 process (1 core)",
        "ftrun-2": "ftrun scan, 2 workers (2 cores)",
    }
    for kind, label in labels.items():
        r = best[kind]
        print(
            f"   {label:33}: {r['wall']:7.2f} s  {size_mb / r['wall']:6.1f} MB/s  peak {r['peak_mb']:7.1f} MB"
            + (" (largest of the process and its workers)" if kind == "ftrun-2" else "")
        )
    for kind, goal in (("ftrun-1", 2.0), ("ftrun-2", 3.5)):
        ratio = base["wall"] / best[kind]["wall"]
        print(f"   {labels[kind]}: {ratio:.2f}x the notebook (goal >= {goal}x)")
    same = all(
        (r["examples"], r["tokens"], r["assistant"]) == (base["examples"], base["tokens"], base["assistant"])
        for r in best.values()
    )
    print(f"   same examples / tokens / assistant tokens on every side: {same} ({base['tokens']:,} tokens)")
    big.unlink()

    per_file = int(args.files_mb * 2**20 / args.files)
    print(
        f"\n2. Warm plan: {args.experiments} experiments sharing {args.files} files "
        f"({args.files_mb:,.0f} MB in all, {per_file / 2**20:,.1f} MB each)"
    )
    for i in range(args.files):
        generate(root / "data" / f"part-{i:02d}.jsonl", per_file, seed=100 + i)
    cache_dir = root / ".ftrun"
    cold = measure("plan", str(root), str(cache_dir), str(args.experiments))
    warm = measure("plan", str(root), str(cache_dir), str(args.experiments))
    print(
        f"   cold (reads, checks and counts every file once): {cold['seconds']:7.2f} s  peak {cold['peak_mb']:.1f} MB"
    )
    print(
        f"   warm, fresh process, cache on disk             : {warm['seconds']:7.3f} s  peak {warm['peak_mb']:.1f} MB"
    )
    print(f"   errors found: {warm['errors']} (expected 0)")


if __name__ == "__main__":
    main()
