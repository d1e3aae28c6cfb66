"""The SQLite store: every record the server keeps (files, uploads, jobs, events, checkpoints, models).

One connection per operation (cheap with SQLite), WAL journaling and a busy timeout, so the web app's threads and the
worker process can read and write the same database at once. State changes that must not race (a cancel against the
worker finishing a job) run inside `BEGIN IMMEDIATE` transactions with a guard on the current status.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.job_status import JobStatus
from runner.server import ids

_SCHEMA = """
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
    n_examples INTEGER,
    interruptions INTEGER NOT NULL DEFAULT 0
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

TERMINAL_STATUSES = frozenset(s for s in JobStatus if s.is_terminal)
ACTIVE_STATUSES = frozenset(s for s in JobStatus if s.needs_polling)

_JSON_COLUMNS = ("method", "metadata", "integrations", "error", "result_files", "data", "metrics")


def now() -> int:
    return int(time.time())


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for key in _JSON_COLUMNS:
        if key in out and isinstance(out[key], str):
            out[key] = json.loads(out[key])
    return out


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes, fast commits
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        conn = self._connect()
        try:
            return _row(conn.execute(sql, args).fetchone())
        finally:
            conn.close()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self._connect()
        try:
            return [r for r in (_row(x) for x in conn.execute(sql, args).fetchall()) if r is not None]
        finally:
            conn.close()

    # -- meta --------------------------------------------------------------------------------------------------
    def organization_id(self) -> str:
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='organization_id'").fetchone()
            if row is not None:
                return str(row["value"])
            org = ids.organization_id()
            conn.execute("INSERT INTO meta (key, value) VALUES ('organization_id', ?)", (org,))
            return org

    # -- files -------------------------------------------------------------------------------------------------
    def add_file(self, file_id: str, filename: str, purpose: str, size: int, expires_at: int | None = None) -> dict:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO files (id, created_at, filename, purpose, bytes, expires_at) VALUES (?,?,?,?,?,?)",
                (file_id, now(), filename, purpose, size, expires_at),
            )
        file = self.get_file(file_id)
        assert file is not None
        return file

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM files WHERE id=?", (file_id,))

    def list_files(self, purpose: str | None, order: str, after: str | None, limit: int) -> tuple[list[dict], bool]:
        where, args = ["1=1"], []
        if purpose:
            where.append("purpose=?")
            args.append(purpose)
        if after:
            anchor = self._one("SELECT seq FROM files WHERE id=?", (after,))
            if anchor is not None:
                where.append("seq > ?" if order == "asc" else "seq < ?")
                args.append(anchor["seq"])
        direction = "ASC" if order == "asc" else "DESC"
        rows = self._all(
            f"SELECT * FROM files WHERE {' AND '.join(where)} ORDER BY seq {direction} LIMIT ?", (*args, limit + 1)
        )
        return rows[:limit], len(rows) > limit

    def delete_file(self, file_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM files WHERE id=?", (file_id,)).rowcount > 0

    # -- uploads -----------------------------------------------------------------------------------------------
    def add_upload(self, upload: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO uploads (id, created_at, filename, purpose, bytes, mime_type, status, expires_at)"
                " VALUES (:id, :created_at, :filename, :purpose, :bytes, :mime_type, :status, :expires_at)",
                dict(upload),
            )

    def get_upload(self, upload_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM uploads WHERE id=?", (upload_id,))

    def set_upload_status(self, upload_id: str, status: str, file_id: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE uploads SET status=?, file_id=? WHERE id=?", (status, file_id, upload_id))

    def add_part(self, part_id: str, upload_id: str, size: int) -> dict[str, Any]:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO upload_parts (id, upload_id, created_at, bytes) VALUES (?,?,?,?)",
                (part_id, upload_id, now(), size),
            )
        part = self._one("SELECT * FROM upload_parts WHERE id=?", (part_id,))
        assert part is not None
        return part

    def parts(self, upload_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM upload_parts WHERE upload_id=? ORDER BY seq", (upload_id,))

    # -- jobs --------------------------------------------------------------------------------------------------
    def add_job(self, job: Mapping[str, Any]) -> None:
        cols = list(job)
        values = [_dump(job[c]) if c in _JSON_COLUMNS else job[c] for c in cols]
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                values,
            )

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM jobs WHERE id=?", (job_id,))

    def job_status(self, job_id: str) -> str | None:
        row = self._one("SELECT status FROM jobs WHERE id=?", (job_id,))
        return None if row is None else str(row["status"])

    def list_jobs(self) -> list[dict[str, Any]]:
        """All jobs, newest first."""
        return self._all("SELECT * FROM jobs ORDER BY seq DESC")

    def jobs_with_status(self, *statuses: str) -> list[dict[str, Any]]:
        """Jobs in the given statuses, oldest first (the order the worker takes them in)."""
        marks = ", ".join("?" for _ in statuses)
        return self._all(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY seq", statuses)

    def update_job(
        self,
        job_id: str,
        *,
        expect: Sequence[str] | None = None,
        event: tuple[str, str] | None = None,
        **fields: Any,
    ) -> bool:
        """Set `fields` on a job, only if its status is one of `expect` (when given). Optionally log an event
        `(level, message)` in the same transaction. Returns whether the job was updated."""
        sets = ", ".join(f"{k}=?" for k in fields)
        values = [_dump(v) if k in _JSON_COLUMNS else v for k, v in fields.items()]
        with self.transaction() as conn:
            if expect is not None:
                row = conn.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
                if row is None or row["status"] not in expect:
                    return False
            if fields:
                conn.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*values, job_id))
            if event is not None:
                self._insert_event(conn, job_id, event[0], event[1], "message", {})
        return True

    # -- events ------------------------------------------------------------------------------------------------
    @staticmethod
    def _insert_event(
        conn: sqlite3.Connection, job_id: str, level: str, message: str, type_: str, data: Mapping[str, Any] | None
    ) -> None:
        conn.execute(
            "INSERT INTO events (id, job_id, created_at, level, message, type, data) VALUES (?,?,?,?,?,?,?)",
            (ids.event_id(), job_id, now(), level, message, type_, _dump(data)),
        )

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type_: str = "message",
        data: Mapping[str, Any] | None = None,
    ) -> None:
        with self.transaction() as conn:
            self._insert_event(conn, job_id, level, message, type_, {} if data is None else data)

    def list_events(self, job_id: str, after: str | None, limit: int) -> tuple[list[dict], bool]:
        where, args = ["job_id=?"], [job_id]
        if after:
            anchor = self._one("SELECT seq FROM events WHERE id=? AND job_id=?", (after, job_id))
            if anchor is not None:
                where.append("seq < ?")
                args.append(anchor["seq"])
        rows = self._all(
            f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?", (*args, limit + 1)
        )
        return rows[:limit], len(rows) > limit

    def metrics_events(self, job_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM events WHERE job_id=? AND type='metrics' ORDER BY seq", (job_id,))

    # -- checkpoints -------------------------------------------------------------------------------------------
    def add_checkpoint(self, record: Mapping[str, Any], keep: int) -> list[dict[str, Any]]:
        """Insert a checkpoint and drop all but the newest `keep` of its job. Returns the dropped rows."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO checkpoints (id, job_id, created_at, step, epoch, model, path, metrics)"
                " VALUES (:id, :job_id, :created_at, :step, :epoch, :model, :path, :metrics)",
                {**record, "metrics": _dump(record["metrics"])},
            )
            rows = conn.execute(
                "SELECT * FROM checkpoints WHERE job_id=? ORDER BY step DESC, seq DESC", (record["job_id"],)
            ).fetchall()
            dropped = [r for r in (_row(x) for x in rows[keep:]) if r is not None]
            for r in dropped:
                conn.execute("DELETE FROM checkpoints WHERE id=?", (r["id"],))
        return dropped

    def list_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        """A job's checkpoints, newest first."""
        return self._all("SELECT * FROM checkpoints WHERE job_id=? ORDER BY step DESC, seq DESC", (job_id,))

    def all_checkpoints(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM checkpoints ORDER BY seq")

    def checkpoint_by_model(self, model: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM checkpoints WHERE model=?", (model,))

    def delete_checkpoints_of(self, job_id: str) -> list[dict[str, Any]]:
        rows = self.list_checkpoints(job_id)
        with self.transaction() as conn:
            conn.execute("DELETE FROM checkpoints WHERE job_id=?", (job_id,))
        return rows

    # -- models ------------------------------------------------------------------------------------------------
    def add_model(self, model_id: str, owned_by: str, job_id: str | None, path: Path) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO models (id, created, owned_by, job_id, path) VALUES (?,?,?,?,?)",
                (model_id, now(), owned_by, job_id, str(path)),
            )

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM models WHERE id=?", (model_id,))

    def list_models(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM models ORDER BY created, rowid")

    def delete_model(self, model_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM models WHERE id=?", (model_id,)).rowcount > 0
