"""Stream a JSONL file once: check every line and count its tokens, in constant memory, on every core for big files.

A file is cut into byte ranges aligned to line starts; each range is scanned by a worker process that keeps only
numbers (tokens per example, an 8-byte digest per line for duplicate detection) and the first few findings per check.
The ranges are merged in order, so line numbers are exact. Small files are scanned in this process.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runner.datasets.checks import CHECKS, check_example, messages_to_count
from runner.datasets.jsonparse import JsonLineError, parse_line
from runner.datasets.tokens import count_messages, get_encoding

FIRST_FINDINGS_PER_CHECK = 5  # findings kept with their line per check; the rest are counted
PARALLEL_MIN_BYTES = 32 << 20  # below this a worker pool costs more than it saves
CHUNK_BYTES = 64 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LineFinding:
    line: int
    check: str
    message: str


@dataclass
class ScanResult:
    """What one pass over a file (or a range of it) found. Line numbers are relative to the range until merged."""

    lines: int = 0
    examples: int = 0
    total_tokens: int = 0
    assistant_tokens: int = 0
    over_limit: int = 0
    billed_tokens: int = 0
    missing_system: int = 0  # the notebook's warnings: examples without a system / user message
    missing_user: int = 0
    tokens: array = field(default_factory=lambda: array("I"))  # per example, in order
    digests: array = field(default_factory=lambda: array("Q"))  # per line, 0 for lines that are not examples
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[LineFinding] = field(default_factory=list)

    def add(self, line: int, check: str, message: str) -> None:
        n = self.counts.get(check, 0)
        self.counts[check] = n + 1
        if n < FIRST_FINDINGS_PER_CHECK:
            self.findings.append(LineFinding(line, check, message))


def _digest(raw: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little") or 1


def _lines(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        pos = start
        for raw in f:
            if pos >= end:
                return
            pos += len(raw)
            yield raw


def scan_range(
    path: Path, start: int, end: int, method: str, encoding: str, limit: int, fast: bool = True
) -> ScanResult:
    """Check and count the lines that start in [start, end). `start` must be 0 or just after a newline.

    `fast=False` takes the plain way (the standard library's JSON parser, one encode per value): the same findings
    and counts, kept as the reference the fast way is tested against."""
    enc = get_encoding(encoding)
    res = ScanResult()
    add = res.add
    parse = parse_line
    check = check_example
    count = count_messages
    plain = not fast
    tokens = res.tokens
    digests = res.digests
    examples = total_tokens = assistant_tokens = billed = over_limit = missing_system = missing_user = 0
    lineno = 0
    for raw in _lines(path, start, end):
        lineno += 1
        if lineno == 1 and start == 0 and raw.startswith(_BOM):
            add(lineno, "byte_order_mark", "the file starts with a UTF-8 byte-order mark (tolerated)")
            raw = raw[3:]
        if raw.endswith(b"\r\n"):
            add(lineno, "crlf_line_endings", "line ends with CRLF (tolerated)")
            raw = raw[:-2]
        elif raw.endswith(b"\n"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            add(lineno, "blank_line", "blank line (skipped)")
            digests.append(0)
            continue
        try:
            example = parse(raw, fast=fast)
        except JsonLineError as e:
            add(lineno, e.check, e.message)
            digests.append(0)
            continue
        digests.append(_digest(raw))
        for name, message in check(example, method):
            add(lineno, name, message)
        messages = messages_to_count(example)
        n, assistant = count(enc, messages, plain=plain)
        roles = {r for m in messages if isinstance(m, dict) and isinstance(r := m.get("role"), str)}
        if "system" not in roles and "developer" not in roles:
            missing_system += 1
        if "user" not in roles:
            missing_user += 1
        examples += 1
        total_tokens += n
        assistant_tokens += assistant
        tokens.append(n)
        if n > limit:
            over_limit += 1
            billed += limit
            add(lineno, "over_context_limit", f"{n} tokens, over the context limit of {limit}: truncated in training")
        else:
            billed += n
    res.lines = lineno
    res.examples, res.total_tokens, res.assistant_tokens = examples, total_tokens, assistant_tokens
    res.billed_tokens, res.over_limit = billed, over_limit
    res.missing_system, res.missing_user = missing_system, missing_user
    return res


def _ranges(path: Path, size: int, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of about size/parts bytes, each starting at a line start."""
    bounds = [0]
    with path.open("rb") as f:
        for i in range(1, parts):
            target = max(size * i // parts, bounds[-1])
            f.seek(target)
            if target > 0:
                f.readline()  # move to the next line start
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def worker_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def scan_file(
    path: Path,
    method: str,
    encoding: str,
    limit: int,
    *,
    workers: int | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    chunk_bytes: int = CHUNK_BYTES,
    fast: bool = True,
) -> ScanResult:
    """Check and count a whole file; duplicates are found across the whole file. Line numbers are absolute."""
    size = path.stat().st_size
    workers = worker_count() if workers is None else workers
    if workers <= 1 or size < parallel_min_bytes:
        parts = [scan_range(path, 0, size, method, encoding, limit, fast)]
    else:
        # several ranges per worker, so a worker slowed by other load on the machine holds back less work
        from concurrent.futures import ProcessPoolExecutor  # only a big file's first scan needs processes
        from concurrent.futures.process import BrokenProcessPool

        ranges = _ranges(path, size, max(workers * 4, -(-size // chunk_bytes)))
        get_encoding(encoding)  # built once here; workers started by fork inherit it
        try:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(scan_range, path, a, b, method, encoding, limit, fast) for a, b in ranges]
                parts = [f.result() for f in futures]
        except (BrokenProcessPool, AssertionError, OSError):
            # no worker processes here (a daemon process, a sandbox without fork): scan in this process
            parts = [scan_range(path, 0, size, method, encoding, limit, fast)]
    return _merge(parts)


def _merge(parts: list[ScanResult]) -> ScanResult:
    out = ScanResult()
    offset = 0
    seen: set[int] = set()  # digests of the examples so far (about 60 bytes each)
    for part in parts:
        for finding in part.findings:
            out.add(finding.line + offset, finding.check, finding.message)
        for check, n in part.counts.items():
            # add() above counted the kept findings; count the ones that were only counted in the part
            kept = sum(1 for f in part.findings if f.check == check)
            out.counts[check] = out.counts.get(check, 0) + n - kept
        for i, digest in enumerate(part.digests, start=1):
            if digest == 0:
                continue
            if digest not in seen:
                seen.add(digest)
            elif out.counts.get("duplicate_example", 0) < FIRST_FINDINGS_PER_CHECK:
                first = _first_line_of(digest, parts)
                out.add(i + offset, "duplicate_example", f"exact duplicate of line {first}")
            else:
                out.counts["duplicate_example"] += 1
        out.lines += part.lines
        out.examples += part.examples
        out.total_tokens += part.total_tokens
        out.assistant_tokens += part.assistant_tokens
        out.over_limit += part.over_limit
        out.billed_tokens += part.billed_tokens
        out.missing_system += part.missing_system
        out.missing_user += part.missing_user
        out.tokens.extend(part.tokens)
        offset += part.lines
    out.findings.sort(key=lambda f: (f.line, list(CHECKS).index(f.check) if f.check in CHECKS else 99))
    return out


def _first_line_of(digest: int, parts: list[ScanResult]) -> int:
    """The first line with this digest (only looked up for the few duplicates that are listed)."""
    offset = 0
    for part in parts:
        try:
            return part.digests.index(digest) + 1 + offset
        except ValueError:
            offset += part.lines
    return 0


def percentiles(values: array, qs: tuple[float, ...]) -> tuple[int, ...]:
    """Nearest-rank percentiles of the values (0 when empty), in memory proportional to the distinct values."""
    if not values:
        return tuple(0 for _ in qs)
    histogram = sorted(Counter(values).items())
    n = len(values)
    out = []
    for q in qs:
        rank = min(n - 1, max(0, round(q * (n - 1))))
        seen = 0
        for value, count in histogram:
            seen += count
            if seen > rank:
                out.append(int(value))
                break
    return tuple(out)
