"""The SQLite store: every record the server keeps (files, uploads, jobs, events, checkpoints, models).

One connection per operation (cheap with SQLite), WAL journaling and a busy timeout, so the web app's threads and the
worker process can read and write the same database at once. State changes that must not race (a cancel against the
worker finishing a job) run inside `BEGIN IMMEDIATE` transactions with a guard on the current status: a job's status
changes only through `transition` (the table in `job_transitions`), and a training run's metrics, messages and
checkpoints are written only while its job is `running`.

The schema is versioned (`PRAGMA user_version`) and built by numbered migrations, applied in order when a store opens
a database, so a data directory made by an earlier release upgrades in place and keeps its rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.diagnostics import FtrunError
from runner.job_status import JobStatus
from runner.server import ids
from runner.server.job_transitions import EventLevel, Transition

# The schema, as numbered migrations run in order; `PRAGMA user_version` records how many a database has had.
# Never edit a migration that has shipped: add the next one. Migration 1 is the schema as it first shipped.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the original schema
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE files (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL,
            created_at INTEGER NOT NULL,
            filename TEXT NOT NULL,
            purpose TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            expires_at INTEGER
        )""",
        """CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            filename TEXT NOT NULL,
            purpose TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            mime_type TEXT NOT NULL,
            status TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            file_id TEXT
        )""",
        """CREATE TABLE upload_parts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL,
            upload_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            bytes INTEGER NOT NULL
        )""",
        """CREATE TABLE jobs (
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
        )""",
        "CREATE INDEX jobs_status ON jobs (status)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL,
            job_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX events_job ON events (job_id, seq)",
        """CREATE TABLE checkpoints (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL,
            job_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            model TEXT UNIQUE NOT NULL,
            path TEXT NOT NULL,
            metrics TEXT NOT NULL
        )""",
        """CREATE TABLE models (
            id TEXT PRIMARY KEY,
            created INTEGER NOT NULL,
            owned_by TEXT NOT NULL,
            job_id TEXT,
            path TEXT NOT NULL
        )""",
    ),
    (  # 2: how often a job's worker died under it (recovery fails the job after MAX_INTERRUPTIONS)
        "ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0",
    ),
    (  # 3: where a paused job resumes from: {"path", "step"} of the checkpoint its trainer wrote when it paused
        "ALTER TABLE jobs ADD COLUMN pause_checkpoint TEXT",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# The columns a caller may set on a job after it is created; the status only changes through `transition`.
JOB_UPDATABLE_COLUMNS = frozenset(
    {"method", "error", "fine_tuned_model", "finished_at", "trained_tokens", "result_files", "n_examples",
     "interruptions", "pause_checkpoint"}
)  # fmt: skip
JOB_CREATE_COLUMNS = frozenset(
    {"id", "created_at", "status", "model", "base_model", "training_file", "validation_file", "suffix", "seed",
     "method", "metadata", "integrations", "error", "result_files"}
)  # fmt: skip


class StoreTooNew(FtrunError):
    """The database was written by a newer ftrun than this one."""


ACTIVE_STATUSES = tuple(s.value for s in JobStatus if s.needs_polling)  # the worker has something to do for these

_JSON_COLUMNS = ("method", "metadata", "integrations", "error", "result_files", "data", "metrics", "pause_checkpoint")


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


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _unversioned_version(conn: sqlite3.Connection) -> int:
    """The migrations a database made before schema versions were recorded has had, read from its tables."""
    if not _columns(conn, "jobs"):
        return 0
    return 2 if "interruptions" in _columns(conn, "jobs") else 1


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to `SCHEMA_VERSION`, inside the caller's transaction. Returns the version it had."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        version = _unversioned_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreTooNew(
            f"The server's database was written by a newer ftrun (schema {version}; this one knows {SCHEMA_VERSION}).",
            hint="Upgrade ftrun, or point the server at another data directory.",
        )
    for number in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[number - 1]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return version


def _checked_columns(columns: Iterable[str], allowed: frozenset[str], what: str) -> list[str]:
    names = list(columns)
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValueError(f"not a column {what}: {', '.join(unknown)}")
    return names


_RUNNING = JobStatus.RUNNING.value


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        with self.transaction() as conn:
            migrate(conn)

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
    @staticmethod
    def insert_file(
        conn: sqlite3.Connection, file_id: str, filename: str, purpose: str, size: int, expires_at: int | None = None
    ) -> None:
        """Record a stored file inside the caller's transaction."""
        conn.execute(
            "INSERT INTO files (id, created_at, filename, purpose, bytes, expires_at) VALUES (?,?,?,?,?,?)",
            (file_id, now(), filename, purpose, size, expires_at),
        )

    def add_file(self, file_id: str, filename: str, purpose: str, size: int, expires_at: int | None = None) -> dict:
        with self.transaction() as conn:
            self.insert_file(conn, file_id, filename, purpose, size, expires_at)
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
    def add_job(self, job: Mapping[str, Any], events: Sequence[str] = ()) -> None:
        """Insert a new job and its first (info) events in one transaction."""
        cols = _checked_columns(job, JOB_CREATE_COLUMNS, "a new job may have")
        values = [_dump(job[c]) if c in _JSON_COLUMNS else job[c] for c in cols]
        with self.transaction() as conn:
            conn.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values)
            for message in events:
                self._insert_event(conn, job["id"], "info", message, "message", {})

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM jobs WHERE id=?", (job_id,))

    def job_status(self, job_id: str) -> str | None:
        row = self._one("SELECT status FROM jobs WHERE id=?", (job_id,))
        return None if row is None else str(row["status"])

    def list_jobs(
        self, *, limit: int, after_seq: int | None = None, metadata: Mapping[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of jobs, newest first: older than `after_seq` when given; `metadata` keeps the jobs whose metadata
        has every pair (`{}`: the jobs without metadata). Returns the page and whether more follow."""
        where: list[str] = ["1=1"]
        args: list[Any] = []
        if after_seq is not None:
            where.append("seq < ?")
            args.append(after_seq)
        if metadata is not None and not metadata:
            where.append("COALESCE(metadata, 'null') IN ('null', '{}')")
        for key, value in (metadata or {}).items():
            where.append(
                "EXISTS (SELECT 1 FROM json_each(jobs.metadata) AS m WHERE m.key = ? AND m.type = 'text'"
                " AND m.value = ?)"
            )
            args += [key, value]
        rows = self._all(
            f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?", (*args, limit + 1)
        )
        return rows[:limit], len(rows) > limit

    def jobs_with_status(self, *statuses: str) -> list[dict[str, Any]]:
        """Jobs in the given statuses, oldest first (the order the worker takes them in)."""
        marks = ", ".join("?" for _ in statuses)
        return self._all(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY seq", statuses)

    def transition(
        self,
        job_id: str,
        transition: Transition,
        *,
        fields: Mapping[str, Any] | None = None,
        within: Callable[[sqlite3.Connection], None] | None = None,
        **arguments: object,
    ) -> bool:
        """Make `transition` on a job if its status allows it: the new status, `fields`, the transition's events
        (formatted with `arguments`) and `within(conn)` in one transaction. Returns whether it happened."""
        rule = transition.rule
        fields = dict(fields or {})
        cols = _checked_columns(fields, JOB_UPDATABLE_COLUMNS, "a job may update")
        sets = "".join(f", {c}=?" for c in cols)
        values = [_dump(fields[c]) if c in _JSON_COLUMNS else fields[c] for c in cols]
        sources = sorted(s.value for s in rule.sources)
        marks = ", ".join("?" for _ in sources)
        with self.transaction() as conn:
            changed = conn.execute(
                f"UPDATE jobs SET status=?{sets} WHERE id=? AND status IN ({marks})",
                (rule.target.value, *values, job_id, *sources),
            ).rowcount
            if not changed:
                return False
            for level, message in transition.events(**arguments):
                self._insert_event(conn, job_id, level, message, "message", {})
            if within is not None:
                within(conn)
        return True

    def update_job(self, job_id: str, *, while_in: Collection[str], **fields: Any) -> bool:
        """Set `fields` (never the status) on a job whose status is one of `while_in`. Returns whether it did."""
        cols = _checked_columns(fields, JOB_UPDATABLE_COLUMNS, "a job may update")
        if not cols:
            return self.job_status(job_id) in while_in
        values = [_dump(fields[c]) if c in _JSON_COLUMNS else fields[c] for c in cols]
        statuses = sorted(str(s) for s in while_in)
        marks = ", ".join("?" for _ in statuses)
        with self.transaction() as conn:
            return (
                conn.execute(
                    f"UPDATE jobs SET {', '.join(f'{c}=?' for c in cols)} WHERE id=? AND status IN ({marks})",
                    (*values, job_id, *statuses),
                ).rowcount
                > 0
            )

    # -- events ------------------------------------------------------------------------------------------------
    @staticmethod
    def _insert_event(
        conn: sqlite3.Connection, job_id: str, level: str, message: str, type_: str, data: Mapping[str, Any] | None
    ) -> None:
        conn.execute(
            "INSERT INTO events (id, job_id, created_at, level, message, type, data) VALUES (?,?,?,?,?,?,?)",
            (ids.event_id(), job_id, now(), level, message, type_, _dump(data)),
        )

    @staticmethod
    def _is_running(conn: sqlite3.Connection, job_id: str) -> bool:
        return conn.execute("SELECT 1 FROM jobs WHERE id=? AND status=?", (job_id, _RUNNING)).fetchone() is not None

    def add_training_event(
        self,
        job_id: str,
        message: str,
        *,
        level: EventLevel = "info",
        type_: str = "message",
        data: Mapping[str, Any] | None = None,
    ) -> bool:
        """Log an event of a job's training run, only while the job is running: a cancelled or paused job's
        history ends with the event that stopped it. Returns whether the event was written."""
        with self.transaction() as conn:
            if not self._is_running(conn, job_id):
                return False
            self._insert_event(conn, job_id, level, message, type_, {} if data is None else data)
        return True

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
    def add_checkpoint(self, record: Mapping[str, Any], keep: int, message: str) -> list[dict[str, Any]] | None:
        """Record a checkpoint of a running job with its event, and drop all but the newest `keep` of its job.
        Returns the dropped rows, or None (nothing written) when the job is no longer running."""
        with self.transaction() as conn:
            if not self._is_running(conn, record["job_id"]):
                return None
            conn.execute(
                "INSERT INTO checkpoints (id, job_id, created_at, step, epoch, model, path, metrics)"
                " VALUES (:id, :job_id, :created_at, :step, :epoch, :model, :path, :metrics)",
                {**record, "metrics": _dump(record["metrics"])},
            )
            self._insert_event(conn, record["job_id"], "info", message, "message", {})
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

    # -- models ------------------------------------------------------------------------------------------------
    @staticmethod
    def insert_model(conn: sqlite3.Connection, model_id: str, owned_by: str, job_id: str | None, path: Path) -> None:
        """Record a model inside the caller's transaction (a job's success registers its model atomically)."""
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
