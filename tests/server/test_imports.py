"""The server imports, builds its app and answers without torch or transformers (those load only to train or chat)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import sys, tempfile, pathlib, httpx2
import runner.server
from runner.server import create_app
app = create_app(pathlib.Path(tempfile.mkdtemp()) / "d", start_worker=False)
with httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://x") as http:
    assert http.get("/v1/models").status_code == 200
    assert http.get("/v1/fine_tuning/jobs").status_code == 200
heavy = sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules)
print("heavy:", heavy)
"""


def test_no_torch_on_import_or_requests() -> None:
    r = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "heavy: []" in r.stdout
