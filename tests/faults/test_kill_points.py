"""Killed at any boundary, apply converges: for every failpoint, a real `ftrun` process is SIGKILLed there, and the
next run leaves the same jobs and files as an apply that was never interrupted.

Each case runs `ftrun apply --auto-approve` (or `destroy --delete-models`) against `ftrun serve` with
FTRUN_FAILPOINTS set, checks that it died at that point, runs the command once more, and proves: one live job per
experiment (none twice for one version), no filename twice on the server, a state that parses with no temp file
left beside it, and a plan with nothing to do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultkit import (
    IN_PARTS,
    KEY,
    PARTS_LIMIT,
    PARTS_SIZE,
    TARGET,
    Served,
    assert_converged,
    duplicate_filenames,
    duplicate_jobs,
    ftrun,
    ftrun_program,
    ok,
    report,
    served_workspace,
    temp_files,
    unlocking,
)
from faultproxy import Seeded, fault_proxy
from test_end_to_end import serving
from workspaces import Workspace

from runner import failpoints
from runner.server.datadir import DataDir

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    """Where to die (`point`, as FTRUN_FAILPOINTS says it: NAME, or NAME@N for the Nth time it is reached), and
    in which `scenario`: `create` (a new experiment), `in-parts` (the same, its file through the Uploads API),
    `retrain` (a hyperparameter changed: the old job is cancelled, a new one created) or `destroy` (with
    --delete-models)."""

    point: str
    scenario: str

    @property
    def name(self) -> str:
        return self.point.split("@")[0]

    def __str__(self) -> str:
        return self.point


CASES = [
    *(Case(p, "create") for p in ("file-upload:before", "file-upload:after", "job-create:before")),
    *(Case(p, "create") for p in ("job-create:after", "job-created")),
    # A new experiment's apply writes state twice: once the file is uploaded, once the job is created (cut short,
    # the second leaves a created job that state does not know).
    *(Case(p, "create") for p in failpoints.ALL if p.startswith("state-write:")),
    Case(f"{failpoints.STATE_WRITE_SYNCED}@2", "create"),
    *(Case(p, "in-parts") for p in ("upload-create:before", "upload-create:after", "upload-part:before")),
    *(Case(p, "in-parts") for p in ("upload-part:after@2", "upload-complete:before", "upload-complete:after")),
    Case("job-cancel:before", "retrain"),
    Case("job-cancel:after", "retrain"),
    Case("model-delete:before", "destroy"),
    Case("model-delete:after", "destroy"),
]


def test_every_failpoint_has_a_kill_case() -> None:
    assert {c.name for c in CASES} == set(failpoints.ALL)


def slug(point: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", point).strip("-")


def assert_killed_at(result: subprocess.CompletedProcess[str], point: str) -> None:
    name = point.split("@")[0]
    assert result.returncode == -9 and f"failpoint {name} reached" in result.stderr, (
        f"ftrun was to die at {point} but exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


@dataclass
class Figures:
    tried: list[str]
    duplicate_jobs: int = 0
    duplicate_files: int = 0
    temp_files_cleared: int = 0


@pytest.fixture(scope="module")
def figures() -> Iterator[Figures]:
    f = Figures(tried=[])
    yield f
    report(
        f"kill points: {len(f.tried)} tried ({len({p.split('@')[0].split()[0] for p in f.tried})} failpoints,"
        " with and without job metadata),"
        f" duplicate jobs: {f.duplicate_jobs}, duplicate files: {f.duplicate_files},"
        f" temp files of killed state writes cleared: {f.temp_files_cleared}"
    )


def count_duplicates(figures: Figures, served: Served, name: str) -> None:
    figures.duplicate_jobs += sum(n - 1 for n in duplicate_jobs(served, name).values())
    figures.duplicate_files += sum(n - 1 for n in duplicate_filenames(served).values())


# Each case runs twice: on a host that keeps job metadata, and through a proxy that strips it (a host whose jobs are
# found by their suffix code).
HOSTS = ("metadata", "no-metadata")


@contextmanager
def host(served: Served, kind: str) -> Iterator[tuple[str, str]]:
    """(url, flavor) of the host `kind`, in front of `served`."""
    if kind == "metadata":
        yield served.url, "ftrun"
        return
    with fault_proxy(served.port, Seeded(0, rate=0.0), strip_metadata=True) as proxy:
        yield proxy.url, "generic"


@pytest.mark.parametrize("kind", HOSTS)
@pytest.mark.parametrize("case", [c for c in CASES if c.scenario != "destroy"], ids=str)
def test_apply_killed_at_a_failpoint_converges_on_the_next_apply(
    case: Case, kind: str, served: Served, tmp_path: Path, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    with host(served, kind) as (url, flavor):
        apply_killed_and_again(case, kind, url, flavor, served, tmp_path, figures, monkeypatch)


def apply_killed_and_again(
    case: Case,
    kind: str,
    url: str,
    flavor: str,
    served: Served,
    tmp_path: Path,
    figures: Figures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"kill-{kind}-{slug(case.point)}"
    ws = served_workspace(tmp_path, name, url, ["a"], flavor=flavor)
    program = None
    if case.scenario == "in-parts":
        import runner.provider

        monkeypatch.setattr(runner.provider, "FILES_API_LIMIT", PARTS_LIMIT)
        monkeypatch.setattr(runner.provider, "UPLOAD_PART_SIZE", PARTS_SIZE)
        program = IN_PARTS
    old_job = None
    if case.scenario == "retrain":
        ok(ftrun(ws, "apply", "--auto-approve"))
        old_job = json.loads((ws.root / "state" / f"{TARGET}.json").read_text())["experiments"]["a"]["current"]
        spec = ws.root / "experiments" / "a.yaml"
        spec.write_text(spec.read_text().replace("n_epochs: 1", "n_epochs: 2"))

    killed = ftrun_program(ws, "apply", "--auto-approve", failpoint=case.point, program=program)
    assert_killed_at(killed, case.point)
    figures.tried.append(f"{case.point} ({kind})")
    left = temp_files(ws)
    assert bool(left) == case.point.startswith(failpoints.STATE_WRITE_SYNCED), left  # only a write cut short
    figures.temp_files_cleared += len(left)

    again = unlocking(ws, "apply", "--auto-approve")
    assert again.exit_code == 0, again.output
    count_duplicates(figures, served, name)
    assert_converged(served, ws, name, ["a"])
    if old_job:
        assert served.client.fine_tuning.jobs.retrieve(old_job).status == "cancelled"


# -- destroy: models to delete need jobs that finished ------------------------------------------------------------
SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, Workspace]]]:
    """A server of its own whose worker (a real worker process) trains with the server tests' fake trainer, so
    that its jobs finish in moments with a model; and one finished workspace per destroy case."""
    import openai

    root = tmp_path_factory.mktemp("trained")
    data = DataDir.at(root / "server")
    repo = Path(__file__).resolve().parents[2]
    log = root / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "runner.server.worker", "--data-dir", str(data.root),
         "--trainer-module", "server_fakes", "--idle-exit", "300"],
        cwd=repo, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(SERVER_TESTS), str(repo)])},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while b"worker started" not in log.read_bytes():  # it holds the lock: the server starts no other
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        with serving(data.root, KEY) as url:
            served = Served(url, data.root, openai.OpenAI(base_url=url, api_key=KEY, max_retries=0))
            with host(served, "no-metadata") as (stripped, generic):
                cases = [c for c in CASES if c.scenario == "destroy"]
                hosts = {"metadata": (url, "ftrun"), "no-metadata": (stripped, generic)}
                spaces = {
                    f"{c.point} {kind}": served_workspace(
                        root, f"destroy-{kind}-{slug(c.point)}", there, ["a"], flavor=flavor
                    )
                    for c in cases
                    for kind, (there, flavor) in hosts.items()
                }
                for ws in spaces.values():
                    ok(ftrun(ws, "apply", "--auto-approve", "--wait", "--timeout", "120"))
                yield served, spaces
    finally:
        worker.kill()
        worker.wait(timeout=30)


@pytest.mark.parametrize("kind", HOSTS)
@pytest.mark.parametrize("case", [c for c in CASES if c.scenario == "destroy"], ids=str)
def test_destroy_killed_at_a_failpoint_converges_on_the_next_destroy(
    case: Case, kind: str, trained: tuple[Served, dict[str, Workspace]], figures: Figures
) -> None:
    served, spaces = trained
    ws = spaces[f"{case.point} {kind}"]
    state = json.loads((ws.root / "state" / f"{TARGET}.json").read_text())
    [model] = [r["fine_tuned_model"] for r in state["experiments"]["a"]["runs"]]
    assert model and model in {m.id for m in served.client.models.list()}

    killed = ftrun_program(ws, "destroy", "--auto-approve", "--delete-models", failpoint=case.point)
    assert_killed_at(killed, case.point)
    figures.tried.append(f"{case.point} ({kind})")

    again = unlocking(ws, "destroy", "--auto-approve", "--delete-models")
    assert again.exit_code == 0, again.output
    assert model not in {m.id for m in served.client.models.list()}
    after = json.loads((ws.root / "state" / f"{TARGET}.json").read_text())
    assert after["experiments"] == {} and temp_files(ws) == []
    count_duplicates(figures, served, ws.root.name)
    assert "Nothing to destroy." in ok(ftrun(ws, "destroy", "--auto-approve", "--delete-models"))
