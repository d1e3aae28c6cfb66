"""Content-addressed caches under the workspace's cache folder, so an unchanged file is never read twice.

- `ident/`: a file's identity (absolute path, size, mtime_ns, inode) → the sha256 of its bytes.
- `results/`: a JSON document per (sha256, what was computed from it): scan results, render and split outcomes.
- `blobs/`: rendered and split data, named by the sha256 of their bytes.

Entries are written atomically (temp file, then rename), so concurrent plans never read half a file. A process-wide
memo avoids even the small reads when the same file is asked for again in one run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CACHE_VERSION = "1"  # bump when what is cached changes shape or meaning


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ByteSink(Protocol):
    """Where bytes can be written: a binary file, sys.stdout.buffer, io.BytesIO."""

    def write(self, data: bytes, /) -> int: ...


class _HashingWriter:
    """A binary writer that hashes what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self.sha256.update(data)
        self.out.write(data)
        return len(data)


class DataCache:
    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir / "datasets"
        self._memo: dict[tuple[str, int, int, int], str] = {}
        self._docs: dict[str, Any] = {}

    def file_sha256(self, path: Path) -> str:
        """sha256 of a file's bytes, read only when its path, size, mtime or inode changed."""
        st = path.stat()
        ident = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
        digest = self._memo.get(ident)
        if digest is not None:
            return digest
        key = hashlib.sha256(json.dumps([CACHE_VERSION, *ident]).encode()).hexdigest()
        entry = self.dir / "ident" / key[:2] / key
        try:
            digest = entry.read_text().strip()
        except OSError:
            digest = ""
        if len(digest) != 64:
            digest = sha256_file(path)
            _atomic_write(entry, digest.encode())
        self._memo[ident] = digest
        return digest

    def get(self, kind: str, key: str) -> Any | None:
        name = f"{kind}/{key[:2]}/{key}.json"
        if name in self._docs:
            return self._docs[name]
        try:
            doc = json.loads((self.dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self._docs[name] = doc
        return doc

    def put(self, kind: str, key: str, doc: Any) -> None:
        name = f"{kind}/{key[:2]}/{key}.json"
        _atomic_write(self.dir / name, json.dumps(doc, ensure_ascii=False).encode())
        self._docs[name] = doc

    def blob_path(self, sha256: str) -> Path:
        return self.dir / "blobs" / sha256[:2] / f"{sha256}.jsonl"

    def store_stream(self, write: Callable[[ByteSink], None]) -> tuple[Path, str]:
        """Store what `write` writes as a blob, streaming (hashed on the way); returns its path and sha256."""
        folder = self.dir / "blobs"
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw)
                write(hashing)
            digest = hashing.sha256.hexdigest()
            path = self.blob_path(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path, digest

    def store_blob(self, data: bytes) -> tuple[Path, str]:
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not (path.is_file() and path.stat().st_size == len(data)):
            _atomic_write(path, data)
        return path, digest


def key_of(*parts: Any) -> str:
    """A cache key: the sha256 of the parts as canonical JSON."""
    return hashlib.sha256(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode()).hexdigest()


_caches: dict[Path, DataCache] = {}


def cache_for(cache_dir: Path) -> DataCache:
    """One cache object per folder per process (so the in-memory memo is shared across prepare calls)."""
    resolved = cache_dir.resolve()
    cache = _caches.get(resolved)
    if cache is None:
        cache = _caches[resolved] = DataCache(resolved)
    return cache


def clear_process_caches() -> None:
    """Forget what this process remembers (the on-disk cache stays); for long-running processes and tests."""
    _caches.clear()
