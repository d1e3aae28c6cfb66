"""Benchmark of the eval runner: cases per second on the built-in server, concurrent against one at a time.

Trains one small model (the tiny preset, on the example's Marv data) in a scratch workspace, then scores it on a
suite of 200 cases × 3 samples in the same run: with requests sent one at a time, and with the target's concurrency
(4 in flight by default), alternating for `--rounds` rounds. Prints cases per second for each beside the goal.
Nothing is asserted. The built-in server batches concurrent requests for one model into one `generate`, so
concurrency pays there as it does on hosts that answer several requests at once (OpenAI, vLLM).

    python bench/eval_bench.py [--cases 200] [--repeat 3] [--concurrency 4] [--max-tokens 24] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL = 1.5  # concurrent requests should score at least this many times as many cases per second


def _train(ws: Path) -> str:
    (ws / "experiments").mkdir(parents=True)
    (ws / "data").mkdir()
    shutil.copy(ROOT / "data" / "marv.jsonl", ws / "data" / "marv.jsonl")
    (ws / "ftrun.yaml").write_text("workspace: eval-bench\ndefaults: {model: local/tiny, seed: 42}\n")
    (ws / "experiments" / "marv.yaml").write_text("training_file: data/marv.jsonl\n")
    ftrun = [sys.executable, "-m", "runner", "-C", str(ws)]
    subprocess.run([*ftrun, "apply", "--auto-approve", "--wait"], check=True, capture_output=True)
    done = subprocess.run([*ftrun, "output", "marv"], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _suite(n: int, repeat: int, max_tokens: int) -> object:
    from runner.evals.assertions import parse
    from runner.evals.suite import Case, Sampling, Suite

    lines = (ROOT / "data" / "marv.jsonl").read_text(encoding="utf-8").splitlines()
    cases = []
    for i in range(n):
        messages = json.loads(lines[i % len(lines)])["messages"]
        question = [messages[0], {"role": "user", "content": f"{messages[1]['content']} ({i})"}]
        expected = parse({"type": "similar", "value": messages[-1]["content"], "threshold": 0.6})
        cases.append(Case(f"case{i}", question[-1]["content"], tuple(question), (expected,)))
    sampling = Sampling(repeat=repeat, temperature=0.8, max_tokens=max_tokens, seed=1)
    return Suite("bench", "evals/bench.yaml", tuple(cases), sampling, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode, alternating; the fastest is kept")
    args = parser.parse_args()

    from runner import local_target
    from runner.evals.runner import evaluate
    from runner.evals.suite import Suite
    from runner.workspace import load_workspace

    with tempfile.TemporaryDirectory(prefix="ftrun-eval-bench-") as tmp:
        ws_dir = Path(tmp) / "ws"
        started = time.perf_counter()
        model = _train(ws_dir)
        print(f"trained {model} in {time.perf_counter() - started:.1f} s")
        ws = load_workspace(ws_dir)
        target = ws.target()
        provider = local_target.connect(ws, target)
        suite = _suite(args.cases, args.repeat, args.max_tokens)
        assert isinstance(suite, Suite)
        warm = replace(suite, cases=suite.cases[:1])
        evaluate(provider, warm, model, concurrency=1)  # the model is loaded before either run is timed
        modes = (("one at a time", 1), (f"{args.concurrency} in flight", args.concurrency))
        best: dict[str, float] = {}
        for round_ in range(1, args.rounds + 1):  # alternating, the fastest of each kept: the machine may be shared
            for label, concurrency in modes:
                t0 = time.perf_counter()
                result = evaluate(provider, suite, model, concurrency=concurrency)
                seconds = time.perf_counter() - t0
                best[label] = max(best.get(label, 0.0), args.cases / seconds)
                print(
                    f"round {round_} {label:>14}: {args.cases} cases × {args.repeat} samples in {seconds:6.1f} s = "
                    f"{args.cases / seconds:6.2f} cases/s (pass rate {result.pass_rate}, errors {result.errors})"
                )
        one, many = (best[label] for label, _ in modes)
        print(f"best: {one:.2f} cases/s one at a time, {many:.2f} cases/s with {args.concurrency} in flight")
        print(f"speed-up: {many / one:.2f}× (goal ≥ {GOAL:.1f}×); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
