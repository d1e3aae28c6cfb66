"""A process that exits while a chat answer is still being generated exits cleanly.

`ftrun chat` on the local target answers in-process: its reader has the whole answer before the generation thread
is out of `generate`, and the process then exits. Exiting while torch runs in another thread is aborted by the C++
runtime ("terminate called without an active exception", exit status 134), so the generation is stopped at exit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.training, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

# Opens a long streamed answer, reads its first piece and exits with the rest still being generated.
EXITS_MID_ANSWER = """
import sys
from pathlib import Path
from runner.server.training import GenerationParams
from runner.server.training.generation_batcher import batcher
from runner.server.training.inference import stream

answer = stream(Path(sys.argv[1]), [{"role": "user", "content": "hi"}], GenerationParams(max_tokens=400, temperature=0))
piece = next(answer)
print("generating" if batcher._running else "already done", flush=True)
"""


def test_exiting_while_an_answer_is_generated_stops_it_and_exits_0(hf_model_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", EXITS_MID_ANSWER, str(hf_model_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.stdout.strip() == "generating", proc.stderr[-2000:]  # it did exit mid-answer
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "terminate called" not in proc.stderr
