"""A fresh `ftrun serve` on a free loopback port for a benchmark, and an SDK client on it (no retries)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from openai import OpenAI

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, *, poll: float = 0.1) -> tuple[subprocess.Popen[bytes], OpenAI]:
    """Start `ftrun serve` on `data_dir` and return it once it answers; the caller stops it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.models.list()
            return server, client
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(poll)
