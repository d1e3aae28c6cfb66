"""What the fault tests share: small workspaces on a served target, the CLI run in this process, and the checks
that an apply converged (no duplicate job, no duplicate file, parseable state, nothing left to do)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import openai
from click.testing import CliRunner, Result
from workspaces import Workspace, chat_lines

from runner.cli import cli
from runner.job_status import JobStatus
from runner.state import StateStore

KEY_ENV = "FTRUN_FAULTS_API_KEY"
KEY = "key-of-the-fault-tests"
TARGET = "serve"

# `ftrun` with the Files API's limit lowered, so that a small file goes up through the Uploads API in parts.
PARTS_LIMIT, PARTS_SIZE = 1000, 700
IN_PARTS = [
    sys.executable,
    "-c",
    "import sys; import runner.provider as p; "
    f"p.FILES_API_LIMIT, p.UPLOAD_PART_SIZE = {PARTS_LIMIT}, {PARTS_SIZE}; "
    "from runner.cli import main; main(sys.argv[1:])",
]


@dataclass(frozen=True)
class Served:
    """A running `ftrun serve`: its URL, data directory, and an SDK client on it (no retries: what it says, is)."""

    url: str
    data_dir: Path
    client: openai.OpenAI

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])


def served_workspace(
    root: Path, name: str, url: str, experiments: Iterable[str], *, lines: int = 12, flavor: str = "ftrun"
) -> Workspace:
    """A workspace named `name` on target `serve` at `url` with the capability profile `flavor` (`generic`: jobs
    keep no metadata, so they are found by their suffix code); each experiment trains one epoch on its own small
    file, whose content names the workspace and the experiment (so no two workspaces share a file on a shared
    server, and the checks can tell whose a job is without its metadata)."""
    ws = Workspace(root / name)
    ws.write(
        "ftrun.yaml",
        f"workspace: {name}\ndefault_target: {TARGET}\n"
        f'targets:\n  {TARGET}: {{kind: openai, flavor: {flavor}, base_url: "{url}", api_key_env: {KEY_ENV},'
        " free: true, poll_interval: 0.2}\n"
        "defaults: {model: local/tiny, seed: 1}\n",
    )
    for exp in experiments:
        ws.write(f"data/{exp}.jsonl", chat_lines(lines, tag=f"{name} {exp}"))
        ws.experiment(
            exp, f"training_file: data/{exp}.jsonl\nmethod:\n  type: supervised\n  hyperparameters: {{n_epochs: 1}}\n"
        )
    (ws.root / "state").mkdir(exist_ok=True)
    return ws


def point_at(ws: Workspace, url: str) -> None:
    """Make the workspace's target `url` (the proxy, or the server itself)."""
    path = ws.root / "ftrun.yaml"
    path.write_text(re.sub(r'base_url: "[^"]*"', f'base_url: "{url}"', path.read_text()))


def ftrun(ws: Workspace, *args: str) -> Result:
    """The `ftrun` command in this process (the same code as the program, without its second of start-up)."""
    result = CliRunner().invoke(cli, ["--no-color", "-C", str(ws.root), *args], env={KEY_ENV: KEY})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ftrun {' '.join(args)} failed with a traceback:\n{result.output}") from result.exception
    return result


def ftrun_program(
    ws: Workspace, *args: str, failpoint: str | None = None, program: Sequence[str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The `ftrun` program in a process of its own, to be killed at `failpoint`."""
    env = {**os.environ, "NO_COLOR": "1", KEY_ENV: KEY}
    if failpoint:
        env["FTRUN_FAILPOINTS"] = failpoint
    exe = Path(sys.executable).with_name("ftrun")
    cmd = list(program) if program else [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]
    return subprocess.run(
        [*cmd, "-C", str(ws.root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def unlocking(ws: Workspace, *args: str) -> Result:
    """`ftrun ARGS`, clearing a dead apply's lock first if the command reports it as stale (an ftrun that takes
    such a lock over by itself needs no help)."""
    result = ftrun(ws, *args)
    if result.exit_code == 1 and "stale lock" in result.output:
        lock_id = re.search(r"ftrun force-unlock (\S+)", result.output)
        assert lock_id, result.output
        cleared = ftrun(ws, "force-unlock", lock_id.group(1))
        assert cleared.exit_code == 0, cleared.output
        result = ftrun(ws, *args)
    return result


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    return result.output


# -- figures for the log -------------------------------------------------------------------------------------------
REPORT: list[str] = []  # printed at the end of the run (tests/faults/conftest.py), `-s` or not


def report(line: str) -> None:
    REPORT.append(line)


# -- the checks ----------------------------------------------------------------------------------------------------
def duplicate_filenames(served: Served) -> dict[str, int]:
    """Filenames stored more than once on the server (every workspace's, not only one's)."""
    names = Counter(f.filename for f in served.client.files.list(purpose="fine-tune"))
    return {name: n for name, n in names.items() if n > 1}


_owners: dict[str, tuple[str, str] | None] = {}


def file_owner(served: Served, file_id: str) -> tuple[str, str] | None:
    """(workspace, experiment) whose data a training file holds: its first question names both."""
    if file_id not in _owners:
        try:
            first = served.client.files.content(file_id).text.splitlines()[0]
            words = json.loads(first)["messages"][1]["content"].split()
            _owners[file_id] = (words[0], words[1])
        except (openai.NotFoundError, IndexError, KeyError, ValueError):
            _owners[file_id] = None
    return _owners[file_id]


def workspace_jobs(served: Served, workspace: str) -> list[tuple[str, openai.types.fine_tuning.FineTuningJob]]:
    """(experiment, job) for every job on the server trained on the workspace's data, whatever its metadata (jobs
    created through a proxy that strips metadata have none)."""
    out = []
    for job in served.client.fine_tuning.jobs.list(limit=100):
        owner = file_owner(served, job.training_file)
        if owner is not None and owner[0] == workspace:
            out.append((owner[1], job))
    return out


def live_jobs(served: Served, workspace: str) -> list[tuple[str, openai.types.fine_tuning.FineTuningJob]]:
    """(experiment, job) for the workspace's jobs on the server that are not cancelled or failed."""
    return [
        (exp, j)
        for exp, j in workspace_jobs(served, workspace)
        if JobStatus.of(j.status) not in (JobStatus.CANCELLED, JobStatus.FAILED)
    ]


def duplicate_jobs(served: Served, workspace: str) -> dict[str, int]:
    """Experiments of the workspace with more than one live job for one version (the same data and method)."""
    versions = Counter(
        (exp, j.training_file, json.dumps(j.method.model_dump() if j.method else None, sort_keys=True))
        for exp, j in live_jobs(served, workspace)
    )
    return {f"{exp}@{file}": n for (exp, file, _), n in versions.items() if n > 1}


def temp_files(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.root / "state").iterdir() if p.name.startswith("."))


def assert_converged(served: Served, ws: Workspace, name: str, experiments: Sequence[str]) -> None:
    """One live job per experiment, recorded as its current run; no filename twice on the server; a state that
    parses, with no temp file beside it; and a plan with nothing to do."""
    assert duplicate_jobs(served, name) == {}
    assert duplicate_filenames(served) == {}
    jobs = live_jobs(served, name)
    by_experiment = {exp: j.id for exp, j in jobs}
    assert sorted(by_experiment) == sorted(experiments) and len(jobs) == len(experiments), by_experiment
    path = ws.root / "state" / f"{TARGET}.json"
    json.loads(path.read_text(encoding="utf-8"))
    state = StateStore(path).load()
    assert state is not None
    assert {e: s.current for e, s in state.experiments.items()} == by_experiment
    on_server = {f.id for f in served.client.files.list(purpose="fine-tune")}
    assert {rec.file_id for rec in state.files.values()} <= on_server
    assert temp_files(ws) == []
    plan = ftrun(ws, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
