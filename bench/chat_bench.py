"""Chat throughput of `ftrun serve`: tokens per second for one client against several concurrent clients.

Starts a fresh `ftrun serve` on a free port with a scratch data directory, fine-tunes the `local/tiny` preset on the
example Marv data through the real SDK, then times greedy chat completions in the same run: one client asking one
request after another, and `--clients` clients asking at once (each its own questions), alternating for `--rounds`
rounds; the best round of each is kept. Tokens per second counts the completion tokens the server reports. Prints
the figures and their ratio beside the goal; asserts nothing.

    python bench/chat_bench.py [--clients 8] [--requests 6] [--max-tokens 48] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openai import OpenAI
from served import ROOT, serve

DATA = ROOT / "data" / "marv.jsonl"
GOAL = 3.0  # the concurrent clients together should get at least this many times one client's tokens per second


def _train(client: OpenAI) -> str:
    data = client.files.create(file=DATA, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=data.id, seed=42)
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.5)
    if job.fine_tuned_model is None:
        raise SystemExit(f"training failed: {job.error}")
    return job.fine_tuned_model


def _questions() -> list[str]:
    return [json.loads(line)["messages"][1]["content"] for line in DATA.read_text(encoding="utf-8").splitlines()]


def _client_run(client: OpenAI, model: str, questions: list[str], offset: int, requests: int, max_tokens: int) -> int:
    tokens = 0
    for k in range(requests):
        question = questions[(offset + k) % len(questions)]
        answer = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": f"{question} ({offset}.{k})"}],
            max_tokens=max_tokens,
            temperature=0,
        )
        assert answer.usage is not None
        tokens += answer.usage.completion_tokens
    return tokens


def _tokens_per_second(client: OpenAI, model: str, clients: int, requests: int, max_tokens: int) -> float:
    questions = _questions()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        counts = list(
            pool.map(lambda c: _client_run(client, model, questions, c, requests, max_tokens), range(clients))
        )
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=6, help="requests each client sends, one after another")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode, alternating; the best is kept")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ftrun-chat-bench-") as tmp:
        server, client = serve(Path(tmp) / "data")
        try:
            started = time.perf_counter()
            model = _train(client)
            print(f"trained {model} in {time.perf_counter() - started:.1f} s")
            _client_run(client, model, _questions(), 0, 2, args.max_tokens)  # load the model before timing
            one: list[float] = []
            many: list[float] = []
            for _ in range(args.rounds):
                one.append(_tokens_per_second(client, model, 1, args.requests, args.max_tokens))
                many.append(_tokens_per_second(client, model, args.clients, args.requests, args.max_tokens))
        finally:
            server.terminate()
            server.wait(timeout=30)
    best_one, best_many = max(one), max(many)
    ratio = best_many / best_one
    print(f"1 client:  {best_one:8.1f} tokens/s   (rounds: {', '.join(f'{x:.1f}' for x in one)})")
    print(f"{args.clients} clients: {best_many:8.1f} tokens/s   (rounds: {', '.join(f'{x:.1f}' for x in many)})")
    print(f"ratio: {ratio:.2f}x   goal: >= {GOAL:g}x   {'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
