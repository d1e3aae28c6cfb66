"""Apply's and destroy's events in words: one line each as they happen, and the closing line that counts them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import assert_never

from rich.markup import escape

from runner import events as ev
from runner.remote import JobEvent
from runner.views.figures import size
from runner.views.text import printable

_ADOPTED = {
    ev.Adoption.ORPHAN: "adopted job {job} ({status}): it has this version's tags",
    ev.Adoption.FOUND_BEFORE_CREATE: "found job {job} ({status}) already created for this version, adopted",
    ev.Adoption.FOUND_AFTER_ERROR: "the create failed, but job {job} ({status}) had been created: adopted",
    ev.Adoption.CURRENT_AGAIN: "job {job} ({status}) is current again",
}


def event_line(e: ev.Event) -> str | None:
    """One line of Rich markup for an event, or None for one the text view leaves out."""
    match e:
        case ev.RunsRefreshed(count=n):
            return f"[dim]recorded {n} status change(s) from the target[/dim]"
        case ev.FileMissing(display=d, file_id=f):
            return f"{escape(d)}: {escape(f)} is no longer on the target"
        case ev.FileReused(display=d, file_id=f):
            return f"{escape(d)}: already on the target as {escape(f)}, reused"
        case ev.FileUploading(display=d, bytes=n):
            return f"{escape(d)}: uploading ({size(n)})"
        case ev.FileUploaded(display=d, file_id=f):
            return f"{escape(d)}: uploaded as {escape(f)}"
        case ev.WaitingForSlot(active=a, limit=limit):
            return f"{a} jobs active, the target's limit is {limit}: waiting for a slot"
        case ev.JobCreated(experiment=x, job_id=j, retrain=r):
            return f"[green]{escape(x)}[/green]: created job {escape(j)}{' (retrain)' if r else ''}"
        case ev.JobAdopted(experiment=x, job_id=j, status=s, why=why):
            return f"[cyan]{escape(x)}[/cyan]: " + escape(_ADOPTED[why].format(job=j, status=s))
        case ev.JobCancelled(experiment=x, job_id=j, status=s):
            return f"[red]{escape(x)}[/red]: job {escape(j)} {escape(s)}"
        case ev.JobResumed(experiment=x, job_id=j, status=s):
            return f"[green]{escape(x)}[/green]: job {escape(j)} resumed ({escape(s)})"
        case ev.JobGone(experiment=x, job_id=j):
            return f"{escape(x)}: job {escape(j)} no longer exists on the target"
        case ev.ModelDeleted(experiment=x, model=m, existed=existed):
            what = "deleted model" if existed else "model already gone:"
            return f"[red]{escape(x)}[/red]: {what} {escape(m)}"
        case ev.StateUpdated(experiment=x, reason=why):
            return f"{escape(x)}: state updated ({escape(why)})"
        case ev.WaitingForBase(experiment=x, base=base, job_id=job):
            return f"{escape(x)}: waiting for {escape(base)} (job {escape(job)}) to finish, to train on its model"
        case ev.ExperimentMoved(old=old, new=new):
            return f"{escape(old)} → {escape(new)}: moved in state (runs and models carried over)"
        case ev.ExperimentForgotten(experiment=x, notes=notes):
            return f"{escape(x)}: forgotten" + (f" ({escape('; '.join(notes))})" if notes else "")
        case ev.SuiteEvaluated(experiment=x, suite=su, role=role, model=m, available=False, reason=why):
            return (
                f"[dim]{escape(x)}: {escape(su)} not run on the {escape(role)} {escape(m)} ({escape(why or '')})[/dim]"
            )
        case ev.SuiteEvaluated(experiment=x, suite=su, role=role, model=m) as r:
            rate = "n/a" if r.pass_rate is None else f"{r.pass_rate:.2f}"
            errors = f", {r.errors} error(s)" if r.errors else ""
            return (
                f"[magenta]{escape(x)}[/magenta]: {escape(su)} on the {escape(role)} {escape(m)}: pass rate {rate} "
                f"({r.passed}/{r.cases} cases passed{errors})"
            )
        case ev.EvaluationDeferred(experiment=x, what=w, reason=why):
            return f"{escape(x)}: {escape(w)} not evaluated yet ({escape(why)})"
        case ev.AliasMoved(experiment=x, alias=a, job_id=j, previous=prev, figures=f):
            was = f" (was {escape(prev)})" if prev else ""
            return f"[green]{escape(x)}@{escape(a)}[/green] -> job {escape(j)}{was}: {escape(f)}"
        case ev.PromotionBlocked(experiment=x, alias=a, holder=h, figures=f):
            stays = f"stays on job {escape(h)}" if h else "stays unset"
            return f"[yellow]{escape(x)}@{escape(a)}[/yellow] blocked, {stays}: {escape(f)}"
        case ev.Event():
            return None
        case unreachable:  # pragma: no cover
            assert_never(unreachable)


def event_log_line(e: JobEvent) -> str:
    """`ftrun logs`: 2026-12-02 06:40:12  info  Step 10/40: training loss=0.51"""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created_at))
    colour = {"error": "red", "warn": "yellow"}.get(e.level, "dim")
    return f"[dim]{when}[/dim]  [{colour}]{escape(e.level):<5}[/]  {escape(printable(e.message))}"


def event_json(e: ev.Event) -> str:
    """A JSON line (`apply --json`, `destroy --json`)."""
    return json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True)


APPLY_ALWAYS = ("created", "retrained", "adopted", "updated", "cancelled", "forgotten")
DESTROY_ALWAYS = ("cancelled", "forgotten")


def completion_line(title: str, events: Iterable[ev.Event], always: tuple[str, ...] = APPLY_ALWAYS) -> str:
    """'Apply complete! 1 created, 0 retrained, 1 adopted, ...': what happened, counted from the events."""
    counts = ev.tally(events)
    words = [f"{counts[k]} {k}" for k in ev.TALLY_ORDER if counts[k] or k in always]
    return f"[bold green]{title} complete![/bold green] {', '.join(words)}."
