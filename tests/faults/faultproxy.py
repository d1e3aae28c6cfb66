"""An HTTP proxy on 127.0.0.1, in front of a server on 127.0.0.1, that injects the faults a network and a busy
service produce: an error answered instead of forwarding (429, 500, 503), a request forwarded whose answer is lost
(500 instead), a connection reset before or after forwarding, and a delay.

Which request gets which fault is decided by a `Faults` policy: `Seeded` draws them from a seeded generator (the
same seed, the same faults for the same sequence of requests), `Scripted` gives the Nth request matching a method
and path a given fault. The proxy counts what it forwarded and injected, and refuses (503) beyond `max_requests`,
so a client that loops cannot loop for ever.

With `strip_metadata`, it also plays a host that keeps no job metadata: `metadata` is removed from request bodies
and from every object in its answers, and a list's `metadata[...]` filter is dropped from the query.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

LOOPBACK = "127.0.0.1"
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding"}
    | {"upgrade", "host", "content-length"}
)


class Fault(StrEnum):
    TOO_MANY = "429"  # answered without forwarding
    ERROR = "500"
    UNAVAILABLE = "503"
    LOST = "forwarded, then 500"  # the server acted, the client never hears of it
    RESET = "reset"  # the connection reset before forwarding
    RESET_AFTER = "forwarded, then reset"
    DELAY = "delay"  # forwarded after a pause


ANSWERED = {Fault.TOO_MANY: 429, Fault.ERROR: 500, Fault.UNAVAILABLE: 503}


class Faults(Protocol):
    def decide(self, method: str, path: str) -> Fault | None: ...


@dataclass
class Seeded:
    """A fault on `rate` of requests, of a kind drawn uniformly, all from `seed`."""

    seed: int
    rate: float = 0.2
    kinds: tuple[Fault, ...] = tuple(Fault)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self, method: str, path: str) -> Fault | None:
        with self._lock:
            return self._rng.choice(self.kinds) if self._rng.random() < self.rate else None


@dataclass
class Scripted:
    """`fault` on the `nth` request (1 = the first) whose method is `method` and whose path matches `path`."""

    method: str
    path: str
    fault: Fault
    nth: int = 1
    _seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, method: str, path: str) -> Fault | None:
        if method != self.method or not re.fullmatch(self.path, path.split("?")[0]):
            return None
        with self._lock:
            self._seen += 1
            return self.fault if self._seen == self.nth else None


@dataclass
class Record:
    method: str
    path: str
    fault: Fault | None


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        faults: Faults,
        *,
        max_requests: int = 2000,
        delay: tuple[float, float] = (0.05, 0.5),
        strip_metadata: bool = False,
    ) -> None:
        self.upstream_port = upstream_port
        self.strip_metadata = strip_metadata
        self.faults = faults
        self.max_requests = max_requests
        self.delay = delay
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._rng = random.Random(0)
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/v1"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- figures ---------------------------------------------------------------------------------------------------
    def injected(self) -> Counter[str]:
        return Counter(r.fault.value for r in self.records if r.fault is not None)

    def count(self, method: str, path: str) -> int:
        """Requests with this method whose path (without the query) matches the regular expression `path`."""
        return sum(1 for r in self.records if r.method == method and re.fullmatch(path, r.path.split("?")[0]))

    def _admit(self, method: str, path: str) -> Fault | None | bool:
        with self._lock:
            if len(self.records) >= self.max_requests:
                return False
            fault = self.faults.decide(method, path)
            self.records.append(Record(method, path, fault))
            return fault

    def _pause(self) -> float:
        with self._lock:
            return self._rng.uniform(*self.delay)


@contextmanager
def fault_proxy(
    upstream_port: int, faults: Faults, *, max_requests: int = 2000, strip_metadata: bool = False
) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port, faults, max_requests=max_requests, strip_metadata=strip_metadata).start()
    try:
        yield proxy
    finally:
        proxy.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _handle(self) -> None:
            body = self._body()
            fault = proxy._admit(self.command, self.path)
            if fault is False:
                return self._answer(503, "the fault proxy's request limit is reached")
            if isinstance(fault, Fault) and fault in ANSWERED:
                return self._answer(ANSWERED[fault], f"injected fault: {fault}")
            if fault is Fault.RESET:
                return self._reset()
            if fault is Fault.DELAY:
                time.sleep(proxy._pause())
            path = self.path
            if proxy.strip_metadata:
                body, path = _without_metadata(body), _without_metadata_filter(path)
            try:
                status, headers, data = self._forward(body, path)
            except OSError as e:
                return self._answer(502, f"the upstream server did not answer: {e}")
            if fault is Fault.LOST:
                return self._answer(500, "injected fault: the answer was lost")
            if fault is Fault.RESET_AFTER:
                return self._reset()
            if proxy.strip_metadata:
                data = _without_metadata(data)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, body: bytes, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(LOOPBACK, proxy.upstream_port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = f"{LOOPBACK}:{proxy.upstream_port}"
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                return response.status, kept, data
            finally:
                conn.close()

        def _answer(self, status: int, message: str) -> None:
            kind = "rate_limit_error" if status == 429 else "server_error"
            data = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reset(self) -> None:
            """Close with SO_LINGER 0: the client gets a TCP reset, not an answer."""
            self.close_connection = True
            sock = self.connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            fd = sock.detach()
            socket.close(fd)

    return Handler


def _without_metadata(data: bytes) -> bytes:
    """A JSON body with `metadata` taken out of it and of the objects of its `data` list; anything else as it is."""
    try:
        value = json.loads(data)
    except ValueError:
        return data  # a file's bytes, a multipart upload
    if not isinstance(value, dict):
        return data
    value.pop("metadata", None)
    items = value.get("data")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            item.pop("metadata", None)
    return json.dumps(value).encode()


def _without_metadata_filter(path: str) -> str:
    base, _, query = path.partition("?")
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if not k.startswith("metadata")]
    return f"{base}?{urllib.parse.urlencode(kept)}" if kept else base


@dataclass
class Always:
    """`fault` on every request whose method is `method` and whose path matches `path`."""

    method: str
    path: str
    fault: Fault

    def decide(self, method: str, path: str) -> Fault | None:
        return self.fault if method == self.method and re.fullmatch(self.path, path.split("?")[0]) else None
