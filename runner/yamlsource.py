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


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SpecError(
                    Diagnostic(
                        Severity.ERROR,
                        f"duplicate key '{key}' (first defined on line {seen[key]})",
                        file=file,
                        line=line,
                        check="duplicate-key",
                    )
                )
            seen[key] = line
            lines[("<key>", *path, key)] = line
            _walk(value_node, (*path, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, file)


def parse_yaml(text: str, file: str) -> Located:
    """Parse one YAML document from `text`; `file` is how errors name it."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, file, {(): 1})
        lines: dict[Path_, int] = {}
        _walk(node, (), lines, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = e.problem or e.context or "invalid YAML"
        raise SpecError(
            Diagnostic(Severity.ERROR, f"invalid YAML: {problem}", file=file, line=line, check="yaml-syntax")
        ) from None
    except yaml.YAMLError as e:
        raise SpecError(Diagnostic(Severity.ERROR, f"invalid YAML: {e}", file=file, check="yaml-syntax")) from None
    finally:
        loader.dispose()
    return Located(data, file, lines)


def load_yaml(path: Path, display: str | None = None) -> Located:
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(
            Diagnostic(Severity.ERROR, f"file is not valid UTF-8 (byte {e.start})", file=display, check="encoding")
        ) from None
    except OSError as e:
        raise SpecError(Diagnostic(Severity.ERROR, f"cannot read file: {e.strerror}", file=display)) from None
    return parse_yaml(text, display)
