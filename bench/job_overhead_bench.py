"""How long a job on `ftrun serve` waits before its first training step: the first job after the server starts, and
the next one.

Starts a fresh `ftrun serve` on a free port with a scratch data directory, uploads the example Marv data through the
real SDK, then runs small jobs (the `local/tiny` preset, default hyperparameters) one after another. For each job it
measures, from the client, the time from `jobs.create` to its first metrics event (the first optimizer step), and
from `jobs.create` to `succeeded`; the overhead's share of the whole job is printed beside the goal. The first job
is sent as soon as the server answers (or `--warm-up` seconds later). Asserts nothing.

    python bench/job_overhead_bench.py [--jobs 2] [--warm-up 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from openai import OpenAI
from served import ROOT, serve

DATA = ROOT / "data" / "marv.jsonl"
GOAL = 0.15  # time before the first step, as a share of the whole job, first job included
POLL_SECONDS = 0.05


def _job(client: OpenAI, file_id: str, seed: int) -> tuple[float, float]:
    """(seconds from create to the first step, seconds from create to succeeded)."""
    started = time.perf_counter()
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=file_id, seed=seed)
    first_step: float | None = None
    while True:
        if first_step is None:
            events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
            if any(e.type == "metrics" for e in events):
                first_step = time.perf_counter() - started
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(POLL_SECONDS)
    if job.status != "succeeded" or first_step is None:
        raise SystemExit(f"job {job.id} ended {job.status}: {job.error}")
    return first_step, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--warm-up", type=float, default=0.0, help="seconds between the server's start and job 1")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ftrun-overhead-bench-") as tmp:
        server, client = serve(Path(tmp) / "data")
        try:
            file_id = client.files.create(file=DATA, purpose="fine-tune").id
            time.sleep(args.warm_up)
            results = [_job(client, file_id, seed) for seed in range(args.jobs)]
        finally:
            server.terminate()
            server.wait(timeout=30)
    worst = 0.0
    for n, (overhead, total) in enumerate(results, 1):
        share = overhead / total
        worst = max(worst, share)
        label = "first job" if n == 1 else f"job {n}"
        print(f"{label:>9}: {overhead:5.2f} s before its first step of {total:5.2f} s ({share:4.0%})")
    print(f"worst share: {worst:.0%}   goal: <= {GOAL:.0%}   {'met' if worst <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
