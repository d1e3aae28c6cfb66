"""The transition table is the only way a job's status changes, and the store does exactly what it says: from each
allowed status to its target with its events, and from any other status nothing at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runner.job_status import JobStatus
from runner.server.job_transitions import Transition, refusal
from runner.server.store import Store

SERVER_STATUSES = [s for s in JobStatus if s is not JobStatus.GONE]  # `gone` is the client's word only
ARGUMENTS: dict[str, object] = {"model": "ft:m", "message": "it broke", "where": "the beginning"}


def _job(store: Store, status: JobStatus) -> str:
    job_id = f"ftjob-{status.value.replace('_', '')[:8]:0<24}"
    store.add_job(
        {
            "id": job_id,
            "created_at": 1,
            "status": status.value,
            "model": "local/tiny",
            "base_model": "local/tiny",
            "training_file": "file-x",
            "seed": 1,
            "method": {"type": "supervised"},
            "integrations": [],
            "result_files": [],
        }  # fmt: skip
    )
    return job_id


def _events(store: Store, job_id: str) -> list[tuple[str, str]]:
    rows, _ = store.list_events(job_id, None, 100)
    return [(r["level"], r["message"]) for r in reversed(rows)]


@pytest.mark.parametrize("transition", list(Transition), ids=lambda t: t.name)
def test_each_transition_moves_exactly_the_statuses_it_lists(transition: Transition, tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    rule = transition.rule
    for status in SERVER_STATUSES:
        job_id = _job(store, status)
        done = store.transition(job_id, transition, model="ft:m", message="it broke", where="the beginning")
        assert done == (status in rule.sources) == transition.allows(status)
        if done:
            assert store.job_status(job_id) == rule.target
            assert _events(store, job_id) == [(rule.level, m.format(**ARGUMENTS)) for m in rule.messages]
        else:
            assert store.job_status(job_id) == status and _events(store, job_id) == []


def test_finished_jobs_never_change_and_every_status_the_server_uses_is_reachable() -> None:
    for transition in Transition:
        assert not any(s.is_terminal for s in transition.rule.sources), transition
    targets = {t.rule.target for t in Transition}
    assert targets | {JobStatus.VALIDATING_FILES} == set(SERVER_STATUSES)  # jobs are created validating_files


def test_a_refused_transition_rolls_back_what_it_would_have_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    job_id = _job(store, JobStatus.RUNNING)

    def register(conn: sqlite3.Connection) -> None:
        Store.insert_model(conn, "ft:m", "org", job_id, tmp_path)
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        store.transition(job_id, Transition.SUCCEEDED, fields={"fine_tuned_model": "ft:m"}, within=register,
                         model="ft:m")  # fmt: skip
    job = store.get_job(job_id)
    assert job is not None and (job["status"], job["fine_tuned_model"]) == ("running", None)
    assert store.get_model("ft:m") is None and _events(store, job_id) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [("succeeded", "the job has already completed"), ("cancelled", "the job has already cancelled"),
     ("running", "the job is running")],
)  # fmt: skip
def test_refusals_say_why(status: str, expected: str) -> None:
    assert refusal(Transition.RESUMED, "ftjob-1", status) == f"Cannot resume job ftjob-1: {expected}."
