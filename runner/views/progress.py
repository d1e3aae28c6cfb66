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
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from runner import events as ev
from runner.job_status import JobStatus
from runner.remote import Progress as JobProgress
from runner.remote import RemoteJob
from runner.views.events import event_json, event_line

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
            TimeElapsedColumn(),
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
        train_loss = progress.train_loss if progress else None
        status = JobStatus.of(job.status)
        if self.as_json:
            doc: dict[str, object] = {"type": "job_progress", "experiment": experiment, "job_id": job.id}
            doc |= {"status": job.status, "step": step, "total_steps": total, "train_loss": train_loss}
            self.out.out(json.dumps(doc, sort_keys=True), highlight=False)
            return
        loss = f" loss {train_loss:.4f}" if train_loss is not None else ""
        detail = f"{job.status}{loss}"
        if self._progress is not None:
            if experiment not in self._tasks:
                self._tasks[experiment] = self._progress.add_task("", total=total, name=experiment, detail=detail)
            task = self._tasks[experiment]
            self._progress.update(task, detail=detail)
            if total:
                self._progress.update(task, total=total)
            if step is not None:
                self._progress.update(task, completed=step)
            if status is JobStatus.SUCCEEDED:  # a full bar; its clock stops
                done = self._progress.tasks[task].total or 1
                self._progress.update(task, total=done, completed=done)
            elif status.is_settled:
                self._progress.stop_task(task)
            return
        # Piped: a line when the status changes, and at most every 10 s while the step advances.
        key = (job.status, step)
        now = time.monotonic()
        if self._last.get(experiment) == key:
            return
        if self._last.get(experiment, ("",))[0] == job.status and now - self._last_print.get(experiment, 0) < 10:
            return
        self._last[experiment] = key
        self._last_print[experiment] = now
        at = f" step {step}/{total}" if step is not None and total else ""
        self.out.print(f"  {escape(experiment)}: {escape(job.status)}{at}{escape(loss)}")
