"""One `ftrun serve` for the fault tests, on a free loopback port, whose jobs wait where creation left them.

The tests hold the server's worker lock, so the server never starts its trainer: creating, adopting and
cancelling jobs is what these tests are about, and none of them waits for training.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultkit import KEY, REPORT, Served  # noqa: E402
from test_end_to_end import serving  # noqa: E402

from runner.server.datadir import DataDir  # noqa: E402
from runner.server.worker_lock import WorkerLock  # noqa: E402


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = DataDir.at(tmp_path_factory.mktemp("fault-server"))
    no_training = WorkerLock(data.worker_lock)
    assert no_training.acquire()
    try:
        with serving(data.root, KEY) as url:
            yield Served(url, data.root, openai.OpenAI(base_url=url, api_key=KEY, max_retries=0))
    finally:
        no_training.release()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("faults")
        for line in REPORT:
            terminalreporter.write_line(line)
