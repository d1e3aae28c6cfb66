"""An unexpected internal error becomes one line for the user and a log file with the traceback, secrets redacted.

The file is `FTRUN_LOG` when set, otherwise `.ftrun/logs/crash-<time>.log` in the workspace (or the temp directory
outside one). Every line passes through runner.redact first: no key or password reaches the log.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from runner import __version__
from runner.redact import redact_text, secret_values

if TYPE_CHECKING:
    from runner.workspace import Workspace


def log_path(ws: Workspace | None) -> Path:
    if os.environ.get("FTRUN_LOG"):
        return Path(os.environ["FTRUN_LOG"])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = ws.root / ".ftrun" / "logs" if ws is not None else Path(tempfile.gettempdir())
    return folder / f"ftrun-crash-{stamp}-{os.getpid()}.log"


def write(error: BaseException, ws: Workspace | None) -> Path:
    """Append the error's traceback to the log file and return where it went."""
    names = [t.api_key_env for t in ws.targets.values() if t.api_key_env] if ws is not None else []
    secrets = secret_values(names=names)
    text = "".join(traceback.format_exception(error))
    header = (
        f"ftrun {__version__} on Python {platform.python_version()} ({sys.platform}), "
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
        f"command: {' '.join(_argv())}\n"
    )
    path = log_path(ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(redact_text(header + text, secrets) + "\n")
    except OSError:
        path = Path(tempfile.gettempdir()) / path.name
        with path.open("a", encoding="utf-8") as f:
            f.write(redact_text(header + text, secrets) + "\n")
    return path


def _argv() -> list[str]:
    """The command line, with the value of any --api-key option masked."""
    out: list[str] = []
    for arg in sys.argv:
        if out and out[-1] == "--api-key":
            arg = "***"
        elif arg.startswith("--api-key="):
            arg = "--api-key=***"
        out.append(arg)
    return out
