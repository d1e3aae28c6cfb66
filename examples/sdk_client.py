"""A program written against OpenAI's fine-tuning API, with nothing but the official openai SDK.

Point it at `ftrun serve` (or at OpenAI) and it runs unchanged: upload a training file, create a job, poll it to the
end, list its events and checkpoints, download the result CSV, chat with the model and with a checkpoint, and delete
the model.

    ftrun serve --port 9527 &
    OPENAI_BASE_URL=http://127.0.0.1:9527/v1 OPENAI_API_KEY=unused python examples/sdk_client.py data/marv.jsonl \\
        --model local/tiny --question "What's the capital of France?"
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
import time
from pathlib import Path

from openai import OpenAI


def result_csv(client: OpenAI, file_id: str) -> str:
    raw = client.files.content(file_id).read()
    try:  # OpenAI has served this file base64-encoded; other servers send the CSV itself
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return raw.decode("utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("training_file", type=Path)
    parser.add_argument("--model", default="gpt-4.1-mini-2025-04-14")
    parser.add_argument("--suffix", default="sdk-client")
    parser.add_argument("--question", default="What's the capital of France?")
    parser.add_argument("--system", default=None, help="a system message to send before the question")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    client = OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY from the environment
    uploaded = client.files.create(file=args.training_file, purpose="fine-tune")
    print(f"uploaded {uploaded.filename} as {uploaded.id} ({uploaded.bytes} bytes)")

    job = client.fine_tuning.jobs.create(model=args.model, training_file=uploaded.id, suffix=args.suffix, seed=7)
    print(f"created {job.id} ({job.status})")
    deadline = time.monotonic() + args.timeout
    while job.status not in ("succeeded", "failed", "cancelled"):
        if time.monotonic() > deadline:
            print(f"gave up waiting for {job.id}", file=sys.stderr)
            return 1
        time.sleep(2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    print(f"{job.id}: {job.status}, {job.trained_tokens} trained tokens, model {job.fine_tuned_model}")
    if job.status != "succeeded" or not job.fine_tuned_model:
        print(f"error: {job.error}", file=sys.stderr)
        return 1

    for event in reversed(list(client.fine_tuning.jobs.list_events(job.id, limit=100))):
        print(f"  event [{event.type}] {event.message}")
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    for ckpt in checkpoints:
        print(f"  checkpoint step {ckpt.step_number}: {ckpt.fine_tuned_model_checkpoint}")
    csv = result_csv(client, job.result_files[0])
    print(f"result file: {len(csv.splitlines()) - 1} rows, columns {csv.splitlines()[0]}")

    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": args.question})
    latest = max(checkpoints, key=lambda c: c.step_number, default=None)
    for model in (job.fine_tuned_model, latest.fine_tuned_model_checkpoint if latest else None):
        if model:
            answer = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=64)
            print(f"{model} answers: {answer.choices[0].message.content}")

    deleted = client.models.delete(job.fine_tuned_model)
    print(f"deleted {deleted.id}: {deleted.deleted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
