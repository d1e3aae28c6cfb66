"""Render a source's records through a Jinja2 template, in a sandbox, one JSON example per record.

The template sees each field of the record and each of the spec's `vars` as a variable by its name (a record field
wins over a var of the same name, so vars act as defaults), plus `record` (the whole record) unless the record has a
field of that name. `tojson` writes JSON with non-ASCII kept as is. The environment is Jinja2's immutable sandbox
with undefined variables as errors; the loader sees only the workspace's `templates/` folder.

A record whose output is blank is skipped (templates may filter with `{% if %}`); an output spanning several lines
must be one JSON value and is written back on one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES_DIR = "templates"


class TemplateFailure(Exception):
    """A template that cannot be loaded or rendered, with where it happened."""

    def __init__(
        self, message: str, *, template: str, template_line: int | None = None, check: str = "template_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.template_line = template_line
        self.check = check  # template_undefined | template_sandbox | template_error


def _json_default(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the variable
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


def _tojson(value: Any, indent: int | None = None) -> str:
    """JSON text of a value, non-ASCII kept as is; an undefined value fails like any other use of it."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def make_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir), followlinks=False),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["tojson"] = _tojson
    return env


def template_name(template: str) -> str:
    """The name under templates/ of a spec's `template:` value (`templates/x.j2` or `x.j2`)."""
    parts = Path(template).parts
    if parts and parts[0] == TEMPLATES_DIR:
        parts = parts[1:]
    if not parts or any(p in ("..", "") for p in parts) or Path(template).is_absolute():
        raise TemplateFailure(f"a template must be a file under {TEMPLATES_DIR}/: {template}", template=template)
    return "/".join(parts)


def _template_line(tb: TracebackType | None, templates_dir: Path) -> int | None:
    line = None
    prefix = str(templates_dir)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(prefix):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class RecordTemplate:
    """A loaded template, ready to render records."""

    display: str  # the path the spec named, e.g. templates/qa_to_chat.jsonl.j2
    templates_dir: Path
    template: jinja2.Template

    @classmethod
    def load(cls, root: Path, template: str) -> RecordTemplate:
        templates_dir = (root / TEMPLATES_DIR).resolve()
        name = template_name(template)
        env = make_environment(templates_dir)
        try:
            return cls(template, templates_dir, env.get_template(name))
        except jinja2.TemplateSyntaxError as e:
            message = f"template syntax error: {e.message}"
            raise TemplateFailure(message, template=template, template_line=e.lineno) from e
        except jinja2.TemplateNotFound as e:
            raise TemplateFailure(f"template not found: {template}", template=template) from e

    def render(self, fields: Mapping[str, Any], variables: Mapping[str, Any]) -> str | None:
        """The example a record renders to, as one line of JSON text; None when the output is blank."""
        context: dict[str, Any] = {"record": dict(fields), **variables, **fields}
        try:
            out = self.template.render(context)
        except jinja2.UndefinedError as e:
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(
                f"undefined variable: {e.message}",
                template=self.display,
                template_line=line,
                check="template_undefined",
            ) from e
        except jinja2.exceptions.SecurityError as e:
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(
                f"not allowed in the template sandbox: {e}",
                template=self.display,
                template_line=line,
                check="template_sandbox",
            ) from e
        except jinja2.TemplateNotFound as e:
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(
                f"template not found: {e.name} (templates may only include files under {TEMPLATES_DIR}/)",
                template=self.display,
                template_line=line,
            ) from e
        except jinja2.TemplateError as e:
            # SecurityError (sandbox) and other runtime errors
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(f"{type(e).__name__}: {e}", template=self.display, template_line=line) from e
        except Exception as e:  # errors raised by filters or tests on the record's values
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(f"{type(e).__name__}: {e}", template=self.display, template_line=line) from e
        text = out.strip()
        if not text:
            return None
        if "\n" in text or "\r" in text:
            try:
                text = json.dumps(json.loads(text), ensure_ascii=False)
            except json.JSONDecodeError as e:
                raise TemplateFailure(
                    f"the output spans several lines and is not one JSON value ({e.msg}, output line {e.lineno})",
                    template=self.display,
                ) from e
        return text
