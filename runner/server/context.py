"""What every request handler needs: the data directory, the store and the server's settings (no web framework here:
the local target reads through the same context without one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.server import training
from runner.server.datadir import DataDir
from runner.server.model_catalog import cached_base_models
from runner.server.store import ACTIVE_STATUSES, Store
from runner.server.training import ChatStream, Completion, GenerationParams
from runner.server.worker_launcher import start_worker

Generate = Callable[[Path, Sequence[Mapping[str, Any]], GenerationParams], Completion]
Stream = Callable[[Path, Sequence[Mapping[str, Any]], GenerationParams], ChatStream]


@dataclass(frozen=True)
class ServerContext:
    data: DataDir
    store: Store
    organization_id: str
    api_keys: tuple[str, ...]
    start_worker: bool
    max_workers: int
    # `ftrun serve`'s process id: its worker starts with the app, warms up and stays while it runs (None: the worker
    # starts when there is work, and exits when idle).
    server_pid: int | None = None
    # The ports to the trainer package the web app uses; tests swap in fakes with `dataclasses.replace`.
    generate: Generate = training.generate
    stream: Stream = training.stream
    base_directory: Callable[[str, Path], Path | None] = training.base_directory
    base_models: Callable[[], tuple[str, ...]] = cached_base_models

    def chat_directory(self, name: str) -> Path | None:
        """Where a base model's weights are, ready to chat with (see `training.base_directory`)."""
        return self.base_directory(name, self.data.converted_models)

    def wake_worker(self) -> None:
        """Make sure queued work gets a worker (no-op when the app was built without one, as in unit tests); a serving
        app's worker, whether or not there is work."""
        if not self.start_worker:
            return
        if self.server_pid is not None or self.store.jobs_with_status(*ACTIVE_STATUSES):
            start_worker(self.data, self.max_workers, self.server_pid)


def open_context(
    data_dir: Path,
    *,
    api_keys: Sequence[str] = (),
    start_worker: bool = True,
    max_workers: int = 1,
    worker_stays: bool = False,
) -> ServerContext:
    """The server's context on `data_dir` (created if missing); the settings are `create_app`'s."""
    data = DataDir.at(Path(data_dir))
    store = Store(data.database)
    return ServerContext(
        data=data,
        store=store,
        organization_id=store.organization_id(),
        api_keys=tuple(api_keys),
        start_worker=start_worker,
        max_workers=max(1, max_workers),
        server_pid=os.getpid() if worker_stays and start_worker else None,
    )
