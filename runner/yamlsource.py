"""Safe YAML loading that remembers where each value came from.

`load_yaml` parses with PyYAML's SafeLoader (no arbitrary objects), rejects duplicate keys, and returns the data with a
map from each value's path (a tuple of keys and list indexes) to its 1-based line, so that schema errors can name the
file and line of the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.diagnostics import Diagnostic, Severity, SpecError

try:  # the C loader is much faster where libyaml is available; both are "safe"
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[attr-defined,assignment]
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A parsed YAML document and the line of every value in it."""

    data: Any
    file: str
    lines: Mapping[Path_, int]

    def line(self, path: Path_) -> int:
        """The line of the value at `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def key_line(self, path: Path_) -> int:
        """The line of the key that holds the value at `path` (the value itself may sit on a later line)."""
        return self.lines.get(("<key>", *path), self.line(path))


# Bounds on what one document may hold. Aliases let a few hundred bytes stand for billions of values ("billion
# laughs"): such a document is refused from its nodes, before anything expands it.
MAX_VALUES = 100_000  # values in the document once every alias is expanded
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_FILE_BYTES = 16 << 20


def _fail(message: str, file: str, line: int | None, check: str = "yaml-limit") -> SpecError:
    return SpecError(Diagnostic(Severity.ERROR, message, file=file, line=line, check=check))


def _key_text(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    # never str() a collection node: with aliases its text can be exponentially long
    return f"<{node.id} key on line {node.start_mark.line + 1}>"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document that would hold more than MAX_VALUES values once its aliases are expanded, or whose
    aliases form a cycle. Each distinct node is counted once (an alias shares its anchor's node), so this takes
    time in proportion to the text, not to the expansion."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_.discard(key)
            size = sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if size > MAX_VALUES:
                raise _fail(
                    f"the document holds more than {MAX_VALUES:,} values once its aliases are expanded "
                    "(aliases nested in aliases?)",
                    file,
                    node.start_mark.line + 1,
                )
            continue
        if key in sizes:
            continue
        if key in open_:
            raise _fail("an alias refers to a value that contains it (a cycle)", file, node.start_mark.line + 1)
        children = _children(node)
        if not children:
            sizes[key] = 1
            continue
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


class _Walk:
    """Builds the line map (of a document whose expansion is known to be bounded), refusing deep nesting."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.open: set[int] = set()  # ids of the collection nodes being walked (an alias back to one is a cycle)

    def walk(self, node: yaml.Node, path: Path_, where: int) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return
        if len(path) >= MAX_DEPTH:
            raise _fail(f"values are nested more than {MAX_DEPTH} levels deep", self.file, where)
        if id(node) in self.open:
            raise _fail("an alias refers to a value that contains it (a cycle)", self.file, where)
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = _key_text(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _fail(
                        f"duplicate key '{key}' (first defined on line {seen[key]})", self.file, line, "duplicate-key"
                    )
                seen[key] = line
                self.lines.setdefault(("<key>", *path, key), line)
                self.walk(value_node, (*path, key), line)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                # an aliased item's marks are those of its anchor: keep naming the line of the enclosing key
                self.walk(item, (*path, i), max(where, item.start_mark.line + 1))
        self.open.discard(id(node))


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def parse_yaml(text: str, file: str) -> Located:
    """Parse one YAML document from `text`; `file` is how errors name it."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks the characters here
        node = loader.get_single_node()
        if node is None:
            return Located(None, file, {(): 1})
        _check_expansion(node, file)
        walk = _Walk(file)
        walk.walk(node, (), node.start_mark.line + 1)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = e.problem or e.context or "invalid YAML"
        at = f" (column {mark.column + 1})" if mark else ""
        raise _fail(f"invalid YAML: {problem}{at}", file, line, "yaml-syntax") from None
    except yaml.reader.ReaderError as e:
        # e.g. a control character: the C reader gives a byte offset into the UTF-8 text, the Python one a character
        offset = len(text[: e.position].encode("utf-8")) if _Loader is yaml.SafeLoader else e.position
        line, column = _position(text.encode("utf-8"), offset)
        what = f"character U+{e.character:04X}" if isinstance(e.character, int) else "character"
        raise _fail(
            f"invalid YAML: unacceptable {what} at column {column} ({e.reason})", file, line, "yaml-syntax"
        ) from None
    except yaml.YAMLError as e:
        raise _fail(f"invalid YAML: {e}", file, None, "yaml-syntax") from None
    except RecursionError:  # the pure-Python parser (without libyaml) on very deep nesting
        raise _fail(f"values are nested more than {MAX_DEPTH} levels deep", file, None) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data, file, walk.lines)


def load_yaml(path: Path, display: str | None = None) -> Located:
    display = display or str(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise _fail(f"cannot read file: {e.strerror}", display, None, "io") from None
    if len(data) > MAX_FILE_BYTES:
        raise _fail(f"file is larger than {MAX_FILE_BYTES >> 20} MiB", display, None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _position(data, e.start)
        raise _fail(
            f"file is not valid UTF-8: byte 0x{data[e.start]:02x} at column {column}", display, line, "encoding"
        ) from None
    return parse_yaml(text, display)
