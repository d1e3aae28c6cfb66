"""The server's data directory: where the database, stored files, upload parts, job outputs and worker files live.

```
<data_dir>/
  ftrun.sqlite3          the store (WAL mode)
  files/<file-id>        bytes of every stored file
  uploads/<upload_id>/<part_id>   parts of multipart uploads until they are completed
  jobs/<ftjob-id>/       a job's work directory, written by the trainer: checkpoints (the last three kept) and the
                         final model
  models/<sha256>/       GGUF base models converted to Hugging Face directories, by the file's sha256
  models/preset-tokenizers/<sha256>/   preset tokenizers, by the hash of the text they were trained on
  worker.lock            held (flock) by the one live worker process
  worker.log             the worker's log, tracebacks of failed jobs included
  worker.ready           the pid of a worker that has warmed up and stays with `ftrun serve`, while it runs
```
Paths are only ever built from ids the server generated and that match their format (see `ids.is_valid_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.server import ids


class UnsafeId(ValueError):
    """An id that does not have the server's format; never turned into a path."""


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def at(cls, path: Path) -> DataDir:
        d = cls(Path(path).resolve())
        d.ensure()
        return d

    def ensure(self) -> None:
        for p in (self.root, self.files_dir, self.uploads_dir, self.jobs_dir):
            p.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        return self.root / "ftrun.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def converted_models(self) -> Path:
        return self.root / "models"

    @property
    def worker_lock(self) -> Path:
        return self.root / "worker.lock"

    @property
    def worker_ready(self) -> Path:
        return self.root / "worker.ready"

    @property
    def worker_log(self) -> Path:
        return self.root / "worker.log"

    def file_path(self, file_id: str) -> Path:
        return self._child(self.files_dir, file_id, "file-")

    def upload_dir(self, upload_id: str) -> Path:
        return self._child(self.uploads_dir, upload_id, "upload_")

    def part_path(self, upload_id: str, part_id: str) -> Path:
        return self._child(self.upload_dir(upload_id), part_id, "part_")

    def job_dir(self, job_id: str) -> Path:
        return self._child(self.jobs_dir, job_id, "ftjob-")

    def contains(self, path: Path) -> bool:
        """Whether `path` (resolved) lies inside the data directory."""
        return path.resolve().is_relative_to(self.root)

    @staticmethod
    def _child(parent: Path, name: str, prefix: str) -> Path:
        if not ids.is_valid_id(name, prefix):
            raise UnsafeId(name)
        return parent / name
