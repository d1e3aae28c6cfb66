"""The state document: what was uploaded and created on one target, and which run of each experiment is current.

State is plain JSON (reviewed and committed like code), written atomically after every step, with the previous
version kept as a backup. It never holds a secret: only ids, hashes, statuses and figures.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.diagnostics import StateError
from runner.evals.records import AliasRecord, EvalResult
from runner.failpoints import STATE_WRITE_BEFORE, STATE_WRITE_RENAMED, STATE_WRITE_SYNCED, failpoint
from runner.job_status import JobStatus
from runner.remote import RemoteJob

FORMAT_VERSION = 2  # 2: eval results on runs, baselines and aliases
READABLE_VERSIONS = (1, 2)  # older documents load as they are (they hold no evals)


@dataclass(frozen=True)
class FileRecord:
    file_id: str
    bytes: int
    filename: str
    uploaded_at: int


@dataclass(frozen=True)
class Run:
    job_id: str
    training_hash: str
    inputs: Mapping[str, Any]  # the training inputs this run was created from (see fingerprint.training_inputs)
    status: str
    created_at: int
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: Mapping[str, Any] | None = None  # {"code", "message"} when the job failed
    finished_at: int | None = None
    estimated_usd: float | None = None
    estimated_tokens: int | None = None
    adopted: bool = False
    examples: int | None = None  # training examples and tokens of the data it was created from (for data deltas)
    data_tokens: int | None = None
    evals: tuple[EvalResult, ...] = ()  # its results on eval suites, one per suite key

    def eval_result(self, key: str) -> EvalResult | None:
        return next((e for e in self.evals if e.key == key), None)

    @property
    def latest_evals(self) -> tuple[EvalResult, ...]:
        """Its newest result on each suite (an edited suite is run again under a new key), by suite name."""
        newest: dict[str, EvalResult] = {}
        for e in sorted(self.evals, key=lambda e: e.evaluated_at):
            newest[e.suite] = e
        return tuple(newest[name] for name in sorted(newest))

    def with_eval(self, result: EvalResult) -> Run:
        return replace(self, evals=(*(e for e in self.evals if e.key != result.key), result))

    @property
    def active(self) -> bool:
        return JobStatus.of(self.status).is_active

    def observed(self, job: RemoteJob, now: int) -> Run:
        """This run as the target reports its job now."""
        return replace(
            self,
            status=job.status,
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            error=job.error,
            finished_at=job.finished_at or (now if JobStatus.of(job.status).is_terminal else None),
        )


@dataclass(frozen=True)
class ExperimentState:
    name: str
    metadata_hash: str
    metadata: Mapping[str, Any]
    current: str | None = None  # job id of the current run
    runs: tuple[Run, ...] = ()
    aliases: Mapping[str, AliasRecord] = field(default_factory=dict)  # alias -> the run it points at
    baselines: tuple[EvalResult, ...] = ()  # its suites' results on its base model (or why there are none)

    def run(self, job_id: str | None) -> Run | None:
        return next((r for r in self.runs if r.job_id == job_id), None) if job_id else None

    @property
    def current_run(self) -> Run | None:
        return self.run(self.current)

    def baseline(self, key: str, model: str | None) -> EvalResult | None:
        """The base model's result on the suite with this key (`model` None: whichever base model, newest)."""
        found = [b for b in self.baselines if b.key == key and (model is None or b.model == model)]
        return max(found, key=lambda b: b.evaluated_at) if found else None

    def aliases_of(self, job_id: str) -> tuple[tuple[str, AliasRecord], ...]:
        """The aliases pointing at this run, by name."""
        return tuple((a, r) for a, r in sorted(self.aliases.items()) if r.job_id == job_id)


@dataclass(frozen=True)
class State:
    lineage: str
    target: str
    serial: int = 0
    format_version: int = FORMAT_VERSION
    files: Mapping[str, FileRecord] = field(default_factory=dict)
    experiments: Mapping[str, ExperimentState] = field(default_factory=dict)

    @staticmethod
    def new(target: str) -> State:
        return State(lineage=str(uuid.uuid4()), target=target)

    def with_file(self, sha256: str, record: FileRecord) -> State:
        return replace(self, files={**self.files, sha256: record})

    def with_experiment(self, exp: ExperimentState) -> State:
        return replace(self, experiments={**self.experiments, exp.name: exp})

    def without_experiment(self, name: str) -> State:
        return replace(self, experiments={k: v for k, v in self.experiments.items() if k != name})

    def renamed(self, old: str, new: str) -> State:
        """The experiment `old` under the name `new`, with everything recorded under it (runs, models, metadata)."""
        exps = {k: v for k, v in self.experiments.items() if k != old}
        exps[new] = replace(self.experiments[old], name=new)
        return replace(self, experiments=exps)

    def with_run(self, experiment: str, run: Run, *, current: bool = True) -> State:
        """Add or replace a run (matched by job id)."""
        exp = self.experiments[experiment]
        runs = tuple(r for r in exp.runs if r.job_id != run.job_id) + (run,)
        runs = tuple(sorted(runs, key=lambda r: (r.created_at, r.job_id)))
        return self.with_experiment(replace(exp, runs=runs, current=run.job_id if current else exp.current))

    def find_run(self, job_id: str) -> tuple[str, Run] | None:
        for name, exp in self.experiments.items():
            run = exp.run(job_id)
            if run:
                return name, run
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "target": self.target,
            "files": {sha: asdict(rec) for sha, rec in sorted(self.files.items())},
            "experiments": {
                name: {
                    "current": exp.current,
                    "metadata_hash": exp.metadata_hash,
                    "metadata": dict(exp.metadata),
                    "runs": [{k: v for k, v in asdict(r).items()} for r in exp.runs],
                    **({"aliases": {a: r.to_dict() for a, r in sorted(exp.aliases.items())}} if exp.aliases else {}),
                    **({"baselines": [b.to_dict() for b in exp.baselines]} if exp.baselines else {}),
                }
                for name, exp in sorted(self.experiments.items())
            },
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> State:
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise StateError(
                f"unsupported state format_version {version!r} (this ftrun reads "
                f"{', '.join(map(str, READABLE_VERSIONS))})"
            )
        experiments = {}
        for name, e in (data.get("experiments") or {}).items():
            runs = tuple(
                Run(**{**r, "evals": tuple(EvalResult.from_dict(x) for x in r.get("evals") or ())})
                for r in e.get("runs", ())
            )
            experiments[name] = ExperimentState(
                name=name,
                metadata_hash=e["metadata_hash"],
                metadata=e.get("metadata") or {},
                current=e.get("current"),
                runs=runs,
                aliases={a: AliasRecord.from_dict(r) for a, r in (e.get("aliases") or {}).items()},
                baselines=tuple(EvalResult.from_dict(b) for b in e.get("baselines") or ()),
            )
        return State(
            lineage=data["lineage"],
            target=data["target"],
            serial=int(data["serial"]),
            format_version=FORMAT_VERSION,  # written back in the current format
            files={sha: FileRecord(**rec) for sha, rec in (data.get("files") or {}).items()},
            experiments=experiments,
        )


class StateStore:
    """Reads and atomically writes one state file (temp file, fsync, rename), keeping the previous as a backup."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = path.with_name(path.name + ".backup")

    def load(self) -> State | None:
        self.remove_stale_temp_files()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return State.from_dict(json.loads(text))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise StateError(
                f"state file {self.path.name} is unreadable: {e}",
                hint=f"restore it from git or from {self.backup_path.name}",
            ) from None

    def load_or_new(self, target: str) -> State:
        return self.load() or State.new(target)

    def save(self, state: State) -> State:
        """Write `state` with its serial bumped; returns what was written."""
        failpoint(STATE_WRITE_BEFORE)
        state = replace(state, serial=state.serial + 1)
        text = json.dumps(state.to_dict(), indent=2, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temp_files()
        if self.path.exists():
            _write_atomically(self.backup_path, self.path.read_bytes())
        _write_atomically(self.path, text.encode("utf-8"), failpoint_synced=STATE_WRITE_SYNCED)
        failpoint(STATE_WRITE_RENAMED)
        return state

    def remove_stale_temp_files(self) -> list[Path]:
        """Remove the temp files of writes of this state (or its backup) that died before their rename.

        A temp file names its writer's pid; one whose writer is no longer running is stale, and so is one of this
        process (no write of it is under way while another starts). Returns what was removed."""
        removed = []
        for name in (self.path.name, self.backup_path.name):
            for tmp in self.path.parent.glob(f".{glob.escape(name)}.*{_TEMP_SUFFIX}"):
                pid = _writer_pid(tmp.name, name)
                if pid is not None and (pid == os.getpid() or not _running(pid)):
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
        return removed


_TEMP_SUFFIX = ".tmp"


def _temp_prefix(target: Path) -> str:
    """`.<name>.<pid>.`: a temp file names the process writing it, so a dead writer's leftovers can be told apart."""
    return f".{target.name}.{os.getpid()}."


def _writer_pid(temp_name: str, target_name: str) -> int | None:
    rest = temp_name[len(target_name) + 2 :]
    pid, _, _ = rest.partition(".")
    return int(pid) if pid.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _write_atomically(path: Path, data: bytes, *, failpoint_synced: str | None = None) -> None:
    """Temp file beside `path`, fsync, rename over `path`, fsync the directory: `path` is the old or the new bytes."""
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if failpoint_synced:
            failpoint(failpoint_synced)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_alias(state: State, sweep: str, alias: str) -> tuple[str, AliasRecord] | None:
    """The variant of `sweep` whose run holds the sweep's `alias` (`pick: best`), and its record."""
    for name, es in sorted(state.experiments.items()):
        record = es.aliases.get(alias)
        if record is not None and record.sweep == sweep:
            return name, record
    return None
