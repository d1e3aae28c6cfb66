"""Apply's progress on the console: a line per event, a live bar per job and per large upload on a terminal, plain
lines when piped, JSON lines with `--json`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from runner import events as ev
from runner.job_status import JobStatus
from runner.remote import Progress as JobProgress
from runner.remote import RemoteJob
from runner.views.events import event_json, event_line
from runner.views.figures import duration

LARGE_UPLOAD = 4_000_000  # bytes: smaller files go up too quickly for a bar to help


class ConsoleObserver:
    """Renders apply's events and job progress as they happen (see runner.apply.Observer)."""

    def __init__(self, out: Console, *, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, tuple[str, int | None]] = {}
        self._last_print: dict[str, float] = {}
        self._upload: Progress | None = None
        self._upload_task = TaskID(0)
        self._loss: dict[str, float] = {}
        self._first_step: dict[str, tuple[int, float]] = {}

    def event(self, event: ev.Event) -> None:
        if self.as_json:
            self.out.out(event_json(event), highlight=False)
            return
        line = event_line(event)
        if line is not None:
            self.out.print(f"  {line}")

    @contextmanager
    def live(self) -> Iterator[None]:
        if self.as_json or not self.out.is_terminal:
            yield
            return
        with Progress(
            TextColumn("[bold]{task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TextColumn("[dim]{task.fields[clock]}"),
            console=self.out,
        ) as progress:
            self._progress = progress
            try:
                yield
            finally:
                self._progress = None

    def upload_progress(self, display: str, sent: int, total: int) -> None:
        """A bar while a large file goes up (on a terminal only: logs get the event lines)."""
        if self.as_json or not self.out.is_terminal or total < LARGE_UPLOAD:
            return
        if self._upload is None:
            self._upload = Progress(
                TextColumn("  uploading {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=self.out,
                transient=True,
            )
            self._upload.start()
            self._upload_task = self._upload.add_task(display, total=total)
        self._upload.update(self._upload_task, completed=sent)
        if sent >= total:
            self._upload.stop()
            self._upload = None

    def job_progress(self, experiment: str, job: RemoteJob, progress: JobProgress | None) -> None:
        step = progress.step if progress else None
        total = progress.total_steps if progress else None
        status = JobStatus.of(job.status)
        if progress and progress.train_loss is not None:
            self._loss[experiment] = progress.train_loss  # kept: a finished job reports no more progress
        train_loss = self._loss.get(experiment)
        if self.as_json:
            doc: dict[str, object] = {"type": "job_progress", "experiment": experiment, "job_id": job.id}
            doc |= {"status": job.status, "step": step, "total_steps": total, "train_loss": train_loss}
            self.out.out(json.dumps(doc, sort_keys=True), highlight=False)
            return
        now = time.time()
        if step is not None:
            self._first_step.setdefault(experiment, (step, now))
        detail = phase_text(status, step, total, train_loss, self._eta(experiment, step, total, now))
        end = job.finished_at if status.is_terminal and job.finished_at else now
        clock = duration(max(0, int(end - job.created_at)))  # from the job's own creation, not from this command
        if self._progress is not None:
            if experiment not in self._tasks:
                self._tasks[experiment] = self._progress.add_task(
                    "", total=total, name=experiment, detail=detail, clock=clock
                )
            task = self._tasks[experiment]
            self._progress.update(task, detail=detail, clock=clock)
            if total:
                self._progress.update(task, total=total)
            if step is not None:
                self._progress.update(task, completed=step)
            if status is JobStatus.SUCCEEDED:  # a full bar
                done = self._progress.tasks[task].total or 1
                self._progress.update(task, total=done, completed=done)
            if status.is_settled:
                self._progress.stop_task(task)
            return
        # Piped: a line when the phase changes, and at most every 10 s while the step advances.
        key = (job.status, step)
        mono = time.monotonic()
        if self._last.get(experiment) == key:
            return
        if self._last.get(experiment, ("",))[0] == job.status and mono - self._last_print.get(experiment, 0) < 10:
            return
        self._last[experiment] = key
        self._last_print[experiment] = mono
        self.out.print(f"  {escape(experiment)}: {escape(detail)} ({clock})")

    def _eta(self, experiment: str, step: int | None, total: int | None, now: float) -> float | None:
        """Seconds left at the pace seen since this job's first reported step."""
        first = self._first_step.get(experiment)
        if first is None or step is None or not total or step <= first[0]:
            return None
        pace = (now - first[1]) / (step - first[0])
        return max(0.0, (total - step) * pace)


def phase_text(status: JobStatus, step: int | None, total: int | None, loss: float | None, eta: float | None) -> str:
    """validating · queued · preparing the model · step 12/40, about 8 s left · succeeded, loss 0.1234"""
    figure = f", loss {loss:.4f}" if loss is not None else ""
    match status:
        case JobStatus.VALIDATING_FILES:
            return "validating the data"
        case JobStatus.QUEUED:
            return "queued"
        case JobStatus.RUNNING if step is None:
            return "preparing the model"
        case JobStatus.RUNNING:
            left = f", about {duration(round(eta))} left" if eta is not None else ""
            return f"training step {step}/{total or '?'}{left}{figure}"
        case _:
            return f"{status}{figure}"
