"""Turn a DataSpec into the bytes that get validated and uploaded: the JSONL file itself, or the rendered examples.

Rendered data is written under the cache folder, named by its sha256, with a line map from each rendered line to
the source line of its record, so that findings on rendered data name the source file and line.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runner.datasets.cache import ByteSink, DataCache, key_of
from runner.datasets.cleaning import READERS_VERSION, Cleaning
from runner.datasets.conversations import example_of
from runner.datasets.records import DataSpec
from runner.datasets.sources import CONVERSATION_FORMATS, SourceError, read_records, source_format

TEMPLATES_DIR = "templates"  # where templates live, relative to the workspace; they may include only files there


@dataclass(frozen=True)
class Material:
    """Bytes ready to check, and where their lines came from."""

    path: Path
    sha256: str
    display: str  # how the plan names the data
    origin: str  # the file findings name: the JSONL path or the template's source
    line_map: tuple[int, ...] | None = None  # line i (1-based) of `path` came from line line_map[i-1] of `origin`
    template: str | None = None
    rendered: bool = False
    # what reading the source left out or scrubbed (conversation formats)
    cleaning: Cleaning | None = field(default=None, compare=False)

    def origin_line(self, line: int) -> int:
        if self.line_map is None:
            return line
        return self.line_map[line - 1] if 0 < line <= len(self.line_map) else line


class MaterializeError(Exception):
    """Data that cannot be produced; names the file and line to blame."""

    def __init__(self, message: str, *, file: str | None, line: int | None, check: str) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.check = check


def resolve_in_root(root: Path, relative: str, what: str) -> Path:
    """A data file inside the workspace (a spec reviewed in a pull request must not reach files outside it)."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise MaterializeError(
            f"{what} {relative} is outside the workspace: data must live in the repository",
            file=relative,
            line=None,
            check="outside-workspace",
        )
    if not path.is_file():
        raise MaterializeError(f"{what} not found: {relative}", file=relative, line=None, check="missing-file")
    return path


def _templated(spec: DataSpec) -> bool:
    """Rendered from a source (through a template, or, for conversation formats, without one)."""
    return spec.template is not None or (not spec.path and spec.source is not None)


def render_lines(spec: DataSpec, root: Path, cleaning: Cleaning | None = None) -> Iterator[tuple[int, str]]:
    """(source line, example JSON text) for each record of a templated spec (or a conversation source without
    a template, whose conversations are the examples); what the source leaves out is counted in `cleaning`."""
    source = spec.source_path
    if not source:
        raise MaterializeError("a template needs a `source`", file=spec.file, line=spec.line, check="missing-source")
    template = None
    if spec.template is not None:
        # Jinja2 is imported only when a record is rendered: a plan whose data is cached never loads it.
        from runner.datasets.templates import RecordTemplate, TemplateFailure

        try:
            template = RecordTemplate.load(root, spec.template)
        except TemplateFailure as e:
            if e.check == "template_not_found":  # no template file to point at: point at the spec line naming it
                raise MaterializeError(
                    e.message, file=spec.file, line=spec.template_line or spec.line, check=e.check
                ) from e
            raise MaterializeError(e.message, file=e.template, line=e.template_line, check=e.check) from e
    src = resolve_in_root(root, source, "source file")
    try:
        fmt = source_format(source, spec.source_fmt)
        if template is None and fmt not in CONVERSATION_FORMATS:
            raise MaterializeError(
                f"a source of format {fmt} needs a `template` (only {', '.join(CONVERSATION_FORMATS)} sources "
                "are conversations by themselves)",
                file=spec.file,
                line=spec.line,
                check="missing-template",
            )
        records = read_records(src, fmt, spec.source_opts, cleaning)
        for record in records:
            if template is None:
                yield record.line, example_of(record.fields, spec.vars)
                continue
            try:
                text = template.render(record.fields, spec.vars)
            except TemplateFailure as e:
                raise MaterializeError(
                    f"{e.message} (rendering the record at {source}:{record.line})",
                    file=e.template,
                    line=e.template_line,
                    check=e.check,
                ) from e
            if text is not None:
                yield record.line, text
    except SourceError as e:
        raise MaterializeError(e.args[0], file=source, line=e.line, check="source_error") from e


def write_rendered(spec: DataSpec, root: Path, out: ByteSink, cleaning: Cleaning | None = None) -> list[int]:
    """Stream the exact bytes a spec trains on (before any split) to `out`: UTF-8 JSONL, one example per line.

    For a plain JSONL path these are the file's bytes. Returns the source line of each written example (for a
    plain path, its own line numbers are used and the list is empty). Raises MaterializeError naming the file and
    line at fault; `out` may then hold a partial rendering.
    """
    if not _templated(spec):
        if not spec.path:
            raise MaterializeError(
                "data needs a `path`, or a `source` (and a `template`)", file=spec.file, line=spec.line, check="spec"
            )
        with resolve_in_root(root, spec.path, "data file").open("rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        return []
    line_map: list[int] = []
    for line, text in render_lines(spec, root, cleaning):
        out.write(text.encode("utf-8") + b"\n")
        line_map.append(line)
    return line_map


def render_bytes(spec: DataSpec, root: Path) -> bytes:
    """The exact bytes a spec trains on (before any split), in memory; see write_rendered."""
    buf = io.BytesIO()
    write_rendered(spec, root, buf)
    return buf.getvalue()


def _templates_digest(root: Path) -> str:
    """sha256 over every file in templates/ (a template may include others)."""
    h = hashlib.sha256()
    folder = root / TEMPLATES_DIR
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else ():
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def materialize(spec: DataSpec, root: Path, cache: DataCache) -> Material:
    """The bytes of a spec: its JSONL file, or its rendering stored in the cache (rendered again only on change)."""
    if not _templated(spec):
        if not spec.path:
            raise MaterializeError(
                "data needs a `path`, or a `source` (and a `template`)", file=spec.file, line=spec.line, check="spec"
            )
        path = resolve_in_root(root, spec.path, "data file")
        return Material(path, cache.file_sha256(path), spec.path, spec.path)
    source = spec.source_path
    if not source:
        raise MaterializeError("a template needs a `source`", file=spec.file, line=spec.line, check="missing-source")
    src = resolve_in_root(root, source, "source file")
    key = key_of(
        "render",
        READERS_VERSION,
        _templates_digest(root),
        spec.template,
        cache.file_sha256(src),
        json.dumps(dict(spec.vars), sort_keys=True, default=str),
        spec.source_fmt,
        json.dumps(dict(spec.source_opts), sort_keys=True, default=str),
    )
    display = spec.display if spec.template else source
    doc = cache.get("render", key)
    if doc is not None:
        blob = cache.blob_path(doc["sha256"])
        if blob.is_file():
            cleaned = Cleaning.from_doc(doc.get("cleaning"))
            return Material(blob, doc["sha256"], display, source, tuple(doc["line_map"]), spec.template, True, cleaned)
    line_map: list[int] = []
    cleaning = Cleaning()
    blob, digest = cache.store_stream(lambda out: line_map.extend(write_rendered(spec, root, out, cleaning)))
    cache.put("render", key, {"sha256": digest, "line_map": line_map, "cleaning": cleaning.to_doc()})
    return Material(blob, digest, display, source, tuple(line_map), spec.template, True, cleaning)
