"""Real processes for tests: the `ftrun` program, a standalone `ftrun serve`, and one way to wait for a condition."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from openai import OpenAI

T = TypeVar("T")

FTRUN = (
    [str(Path(sys.executable).with_name("ftrun"))]
    if Path(sys.executable).with_name("ftrun").exists()
    else [sys.executable, "-m", "runner"]
)


def wait_until(
    condition: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1, what: str = "it"
) -> T:
    """Poll `condition` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def ftrun(
    ws: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FTRUN, "-C", str(ws), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(data_dir: Path, *keys: str) -> Iterator[str]:
    """`ftrun serve` on a free loopback port, ready to answer; yields its base URL and stops it afterwards."""
    port = _free_port()
    args = [arg for key in keys for arg in ("--api-key", key)]
    server = subprocess.Popen(
        [*FTRUN, "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        client = OpenAI(base_url=url, api_key=keys[0] if keys else "unused", max_retries=0)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.models.list()
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
