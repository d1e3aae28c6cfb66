"""Apply through a network that fails: a fifth of the requests between `ftrun apply` and `ftrun serve` get a
seeded fault (429, 500 or 503 unforwarded, forwarded with the answer lost, a reset before or after forwarding, a
delay). Applying again until it succeeds (a bounded number of times) converges with no job and no file twice.

Each seed creates two experiments, then retrains one (a cancel and a create), all through the faults; even seeds
send their files through the Uploads API in parts. Every failed apply must end in a one-line error, never a
traceback.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faultkit import (
    PARTS_LIMIT,
    PARTS_SIZE,
    Served,
    assert_converged,
    duplicate_filenames,
    duplicate_jobs,
    ftrun,
    live_jobs,
    point_at,
    report,
    served_workspace,
    workspace_jobs,
)
from faultproxy import FaultProxy, Seeded, fault_proxy
from workspaces import Workspace

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4, 5, 6)
RATE = 0.2
MAX_APPLIES = 10
CREATES = (
    r"/v1/(files|uploads(/[^/]+/(parts|complete))?|fine_tuning/jobs)"  # applies per phase before the test gives up
)


@dataclass
class Figures:
    rows: list[str] = field(default_factory=list)
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    on_creates: int = 0  # faults on requests that make something (an upload, a part, a job)
    failed_applies: int = 0
    duplicate_jobs: int = 0
    duplicate_files: int = 0


@pytest.fixture(scope="module")
def figures() -> Iterator[Figures]:
    f = Figures()
    yield f
    for row in f.rows:
        report(row)
    report(
        f"fault proxy: seeds {', '.join(map(str, SEEDS))}: {f.requests} requests, {sum(f.faults.values())} faults"
        f" ({', '.join(f'{k}: {n}' for k, n in sorted(f.faults.items()))}; {f.on_creates} on creating requests),"
        f" {f.failed_applies} applies failed"
        f" and were run again, duplicate jobs: {f.duplicate_jobs}, duplicate files: {f.duplicate_files}"
    )


def apply_until_it_succeeds(ws: Workspace) -> int:
    """Apply until it exits 0; returns how many applies failed first. Each failure is a readable error."""
    for failed in range(MAX_APPLIES):
        result = ftrun(ws, "apply", "--auto-approve")  # raises on a traceback
        if result.exit_code == 0:
            return failed
        assert result.exit_code == 1 and result.output.strip(), result.output
    raise AssertionError(f"apply did not succeed in {MAX_APPLIES} tries through the faults")


@pytest.mark.parametrize("kind", ("metadata", "no-metadata"))
@pytest.mark.parametrize("seed", SEEDS)
def test_apply_through_a_faulty_network_converges_without_duplicates(
    seed: int, kind: str, served: Served, tmp_path: Path, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`no-metadata`: the proxy also strips job metadata, as a host that keeps none; jobs are found by suffix code."""
    in_parts = seed % 2 == 0
    if in_parts:
        import runner.provider

        monkeypatch.setattr(runner.provider, "FILES_API_LIMIT", PARTS_LIMIT)
        monkeypatch.setattr(runner.provider, "UPLOAD_PART_SIZE", PARTS_SIZE)
    name = f"faults-{kind}-seed-{seed}"
    proxy: FaultProxy
    stripped = kind == "no-metadata"
    with fault_proxy(served.port, Seeded(seed, rate=RATE), strip_metadata=stripped) as proxy:
        ws = served_workspace(tmp_path, name, proxy.url, ["a", "b"], flavor="generic" if stripped else "ftrun")
        failed = apply_until_it_succeeds(ws)
        first = {exp: j.id for exp, j in live_jobs(served, name)}
        spec = ws.root / "experiments" / "b.yaml"
        spec.write_text(spec.read_text().replace("n_epochs: 1", "n_epochs: 2"))
        failed += apply_until_it_succeeds(ws)

    point_at(ws, served.url)  # the checks go to the server itself, past the faults
    figures.duplicate_jobs += sum(n - 1 for n in duplicate_jobs(served, name).values())
    figures.duplicate_files += sum(n - 1 for n in duplicate_filenames(served).values())
    assert_converged(served, ws, name, ["a", "b"])
    jobs = {j.id: j.status for _, j in workspace_jobs(served, name)}
    assert len(jobs) == 3 and jobs[first["b"]] == "cancelled" and jobs[first["a"]] != "cancelled", jobs

    injected = proxy.injected()
    figures.requests += len(proxy.records)
    figures.faults.update(injected)
    figures.failed_applies += failed
    on_creates = sum(
        1 for r in proxy.records if r.fault and r.method == "POST" and re.fullmatch(CREATES, r.path.split("?")[0])
    )
    figures.on_creates += on_creates
    figures.rows.append(
        f"  seed {seed} ({kind}){', uploads in parts' if in_parts else ''}: {len(proxy.records)} requests,"
        f" {sum(injected.values())} faults ({on_creates} on creating requests), {failed} applies failed first;"
        " converged, no duplicates"
    )
