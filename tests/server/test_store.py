"""The SQLite store: numbered migrations over data directories made by earlier versions, the column allow-list,
guarded writes for jobs that stopped running, and job listing done in SQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import openai
import pytest
from server_testkit import chat_examples

from runner.job_status import JobStatus
from runner.server.datadir import DataDir
from runner.server.job_transitions import Transition
from runner.server.store import SCHEMA_VERSION, Store, StoreTooNew
from runner.server.worker import Worker

# The schema as the first release wrote it (no `interruptions`, no schema version): a data dir made back then.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    file_id TEXT
);
CREATE TABLE IF NOT EXISTS upload_parts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    upload_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    base_model TEXT NOT NULL,
    training_file TEXT NOT NULL,
    validation_file TEXT,
    suffix TEXT,
    seed INTEGER NOT NULL,
    method TEXT NOT NULL,
    metadata TEXT,
    integrations TEXT NOT NULL,
    error TEXT,
    fine_tuned_model TEXT,
    finished_at INTEGER,
    trained_tokens INTEGER,
    result_files TEXT NOT NULL,
    n_examples INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    model TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    metrics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    owned_by TEXT NOT NULL,
    job_id TEXT,
    path TEXT NOT NULL
);
"""
FILE_ID = "file-0123456789abcdefABCDEF"
JOB_ID = "ftjob-0123456789abcdefABCDEF01"


def _first_release_data_dir(root: Path, *, status: str) -> Path:
    root.mkdir(parents=True)
    with sqlite3.connect(root / "ftrun.sqlite3") as db:
        db.executescript(FIRST_RELEASE_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('organization_id', 'org-old')")
        db.execute(
            "INSERT INTO files (id, created_at, filename, purpose, bytes) VALUES (?, 1, 'old.jsonl', 'fine-tune', 9)",
            (FILE_ID,),
        )
        method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
        db.execute(
            "INSERT INTO jobs (id, created_at, status, model, base_model, training_file, seed, method, metadata,"
            " integrations, result_files, n_examples) VALUES (?, 2, ?, 'local/tiny', 'local/tiny', ?, 1, ?, ?, '[]',"
            " '[]', 12)",
            (JOB_ID, status, FILE_ID, json.dumps(method), json.dumps({"team": "a"})),
        )
        db.execute(
            "INSERT INTO events (id, job_id, created_at, level, message, type) VALUES ('ftevent-old', ?, 2, 'info',"
            " 'Created fine-tuning job', 'message')",
            (JOB_ID,),
        )
    return root


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_a_first_release_data_dir_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    root = _first_release_data_dir(tmp_path / "old", status="running")
    assert _version(root / "ftrun.sqlite3") == 0
    worker = Worker(DataDir.at(root))
    assert _version(root / "ftrun.sqlite3") == SCHEMA_VERSION
    worker.recover()  # a dead worker's job: requeued, which needs the columns added since
    job = worker.store.get_job(JOB_ID)
    assert job is not None
    assert (job["status"], job["interruptions"], job["metadata"]) == ("queued", 1, {"team": "a"})
    assert worker.store.organization_id() == "org-old"
    assert worker.store.get_file(FILE_ID) is not None
    messages = [e["message"] for e in worker.store.list_events(JOB_ID, None, 10)[0]]
    assert messages == ["Training was interrupted (the worker stopped); resuming from the beginning",
                        "Created fine-tuning job"]  # fmt: skip
    Store(root / "ftrun.sqlite3")  # opening an up-to-date store again changes nothing
    assert _version(root / "ftrun.sqlite3") == SCHEMA_VERSION


def test_an_unversioned_data_dir_with_interruptions_is_read_as_migration_2(tmp_path: Path) -> None:
    root = _first_release_data_dir(tmp_path / "old", status="queued")
    with sqlite3.connect(root / "ftrun.sqlite3") as db:
        db.execute("ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE jobs SET interruptions=2")
    store = Store(root / "ftrun.sqlite3")
    job = store.get_job(JOB_ID)
    assert job is not None and job["interruptions"] == 2 and job["pause_checkpoint"] is None


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store(path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreTooNew, match="newer ftrun"):
        Store(path)


def test_only_known_columns_reach_sql(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    with pytest.raises(ValueError, match="not a column"):
        store.update_job(JOB_ID, while_in=(JobStatus.RUNNING,), **{"status='x' --": 1})
    with pytest.raises(ValueError, match="not a column"):
        store.update_job(JOB_ID, while_in=(JobStatus.RUNNING,), status="running")  # only through a transition
    with pytest.raises(ValueError, match="not a column"):
        store.transition(JOB_ID, Transition.CANCELLED, fields={"id": "ftjob-other"})
    with pytest.raises(ValueError, match="not a column"):
        store.add_job({"id": JOB_ID, "seq": 1})


def test_writes_for_a_job_that_stopped_running_are_refused(client: openai.OpenAI, worker: Worker) -> None:
    f = client.files.create(file=("t.jsonl", chat_examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=f.id)
    store = worker.store
    assert not store.add_training_event(job.id, "too early")  # validating_files: not running yet
    worker.runner.validate(store.get_job(job.id))  # type: ignore[arg-type]
    assert worker.runner.claim(job.id)
    assert store.add_training_event(job.id, "Step 1/6: training loss=1.00", type_="metrics", data={"step": 1})
    client.fine_tuning.jobs.cancel(job.id)
    assert not store.add_training_event(job.id, "Step 2/6: training loss=0.50", type_="metrics", data={"step": 2})
    record = {"id": "ftckpt-x", "job_id": job.id, "created_at": 1, "step": 3, "epoch": 1, "model": "ft:x",
              "path": "/nowhere", "metrics": {}}  # fmt: skip
    assert store.add_checkpoint(record, keep=3, message="Checkpoint created at step 3") is None
    assert not store.update_job(job.id, while_in=(JobStatus.RUNNING,), n_examples=1)
    assert not store.transition(job.id, Transition.SUCCEEDED, model="ft:x")
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=50)]
    assert events[0] == "Fine-tuning job cancelled" and "Step 2/6: training loss=0.50" not in events
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []


def test_job_listing_pages_and_filters_in_sql(client: openai.OpenAI, training_file: str) -> None:
    made = []
    for i in range(7):
        metadata = {"team": "a" if i % 2 else "b", "n": str(i)} if i != 3 else None
        made.append(
            client.fine_tuning.jobs.create(model="local/tiny", training_file=training_file, metadata=metadata).id
        )
    newest_first = made[::-1]
    page = client.fine_tuning.jobs.list(limit=3)
    assert [j.id for j in page.data] == newest_first[:3] and page.has_more
    page = client.fine_tuning.jobs.list(limit=3, after=newest_first[2])
    assert [j.id for j in page.data] == newest_first[3:6] and page.has_more
    page = client.fine_tuning.jobs.list(limit=3, after=newest_first[5])
    assert [j.id for j in page.data] == newest_first[6:] and not page.has_more
    team_a = [made[i] for i in (5, 1)]  # odd, newest first, without 3 (no metadata)
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a"})] == team_a
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a", "n": "5"})] == [made[5]]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a"}, after=made[5])] == [made[1]]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a'; --"})] == []
    without = client.fine_tuning.jobs.list(extra_query={"metadata": "null"})
    assert [j.id for j in without] == [made[3]]
