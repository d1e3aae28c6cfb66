"""`serve`: run the server as a standalone HTTP service (threaded werkzeug server)."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from runner.diagnostics import FtrunError
from runner.server.app import create_app
from runner.server.context import ServerContext
from runner.server.worker_launcher import wait_until_ready

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9527
DEFAULT_DATA_DIR = Path(".ftrun") / "server"
API_KEY_ENV = "FTRUN_SERVER_API_KEY"  # where `ftrun serve` reads its keys from (the command line shows in `ps`)

# How long `serve` waits, before it listens, for its worker to be ready to train (torch and transformers imported).
WORKER_READY_SECONDS = 60.0

log = logging.getLogger("runner.server")


class UnsafeBind(FtrunError):
    """Refusal to listen beyond this machine without an API key (the CLI prints it like any user error)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def check_bind(host: str, api_keys: Sequence[str]) -> None:
    if not is_loopback(host) and not any(api_keys):
        raise UnsafeBind(
            f"Refusing to listen on {host}: it is reachable from other machines and no API key is set.",
            hint=f"Set {API_KEY_ENV} to one or more comma-separated keys (every request must then send"
            " 'Authorization: Bearer <key>'), or bind 127.0.0.1. A key in the environment stays out of the process"
            " list; one given with --api-key does not.",
        )


def http_server(host: str, port: int, app: Any) -> BaseWSGIServer:
    """The HTTP server `serve` runs: werkzeug, a thread per request, HTTP/1.1. A streamed answer (a generator
    response) goes out chunked, each event flushed as soon as it is written."""
    return make_server(host, port, app, threaded=True)


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    data_dir: Path = DEFAULT_DATA_DIR,
    api_keys: Sequence[str] = (),
    max_workers: int = 1,
) -> None:
    """Serve until interrupted. Raises `UnsafeBind` for a non-loopback host without API keys."""
    keys = tuple(k for k in api_keys if k)
    check_bind(host, keys)
    app = create_app(Path(data_dir), api_keys=keys, max_workers=max_workers, worker_stays=True)
    try:
        server = http_server(host, port, app)
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise FtrunError(f"cannot listen on {host}:{port}: {e.strerror or e}", hint="choose another --port") from None
    context = app.extensions["ftrun"]
    assert isinstance(context, ServerContext)
    try:
        context.wake_worker()  # the worker starts with the server; requests are answered once it is ready to train
        if not wait_until_ready(context.data, WORKER_READY_SECONDS):
            log.warning("the worker is not ready to train yet; jobs will wait for it (see %s)", context.data.worker_log)
        log.info("serving on http://%s:%d (data in %s)", host, server.server_port, Path(data_dir).resolve())
        server.serve_forever()
    finally:
        server.server_close()
