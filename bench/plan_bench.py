"""CPU time of a warm `ftrun plan` and `ftrun validate` on the example workspace, beside their goals, with the parts.

    python bench/plan_bench.py [--rounds 5]

Each figure is the child process's user + system CPU time (not wall time: the machine may be shared), best of N
rounds, measured side by side in one run. "Warm" is what a user's second run sees: the data cache filled and Python's
bytecode cached (the children write it under a temporary PYTHONPYCACHEPREFIX, whatever PYTHONDONTWRITEBYTECODE says
in this shell, so the checkout is left alone). The parts (importing the openai SDK, opening the built-in server's store,
building its Flask app) are measured the same way so the remainder is visible.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"plan": 0.6, "validate": 0.27}
FTRUN = [sys.executable, "-m", "runner"]


def cpu_of(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """User + system CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _python(code: str) -> list[str]:
    """A child that runs `code` with `D` a fresh data directory."""
    return [sys.executable, "-c", f"import pathlib, tempfile; D = pathlib.Path(tempfile.mkdtemp()) / 'd'; {code}"]


def best(args: list[str], cwd: Path, env: dict[str, str], rounds: int) -> float:
    cpu_of(args, cwd, env)  # writes the bytecode this command needs
    return min(cpu_of(args, cwd, env) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "example"
        ws.mkdir()
        for rel in ("ftrun.yaml", "experiments", "data", "templates", "evals"):
            src = ROOT / rel
            (shutil.copytree if src.is_dir() else shutil.copy)(src, ws / rel)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        subprocess.run([*FTRUN, "plan"], cwd=ws, env=env, check=True, stdout=subprocess.DEVNULL)  # the data cache
        figures = {
            "plan": best([*FTRUN, "plan"], ws, env, rounds),
            "validate": best([*FTRUN, "validate"], ws, env, rounds),
            "python": best([sys.executable, "-c", "pass"], ws, env, rounds),
            "import openai": best([sys.executable, "-c", "import openai"], ws, env, rounds),
            # what a plan pays to read the built-in server: its store and one listing of jobs, no web framework ...
            "server reads": best(
                _python(
                    "from runner.server import reads; from runner.server.context import open_context; "
                    "reads.jobs_page(open_context(D), limit=100, after=None, metadata=None)"
                ),
                ws,
                env,
                rounds,
            ),
            # ... and what the first write pays on top (the Flask app the SDK talks to)
            "server app": best(
                _python("from runner.server import create_app; create_app(D, start_worker=False)"), ws, env, rounds
            ),
        }
    load = os.getloadavg()[0]
    print(f"warm CPU seconds, best of {rounds} (load average {load:.1f} on {os.cpu_count()} cores)")
    for name, seconds in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"  goal <= {goal:.2f} s: {'met' if seconds <= goal else 'NOT met'}"
        print(f"  {name:<18} {seconds:6.2f} s{verdict}")
    print(
        "  above a bare interpreter: the SDK import (a plan does not pay it) "
        f"{figures['import openai'] - figures['python']:.2f} s, reading the built-in server "
        f"{figures['server reads'] - figures['python']:.2f} s, building its app (for writes) "
        f"{figures['server app'] - figures['python']:.2f} s"
    )


if __name__ == "__main__":
    main()
