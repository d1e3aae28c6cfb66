"""Render a source's records through a Jinja2 template, in a sandbox, one JSON example per record.

The template sees each field of the record and each of the spec's `vars` as a variable by its name (a record field
wins over a var of the same name, so vars act as defaults), plus `record` (the whole record) unless the record has a
field of that name. `tojson` writes JSON with non-ASCII kept as is. The environment is Jinja2's immutable sandbox
with undefined variables as errors; the loader sees only the workspace's `templates/` folder.

A record whose output is blank is skipped (templates may filter with `{% if %}`); an output spanning several lines
must be one JSON value and is written back on one line.

A template is code from a pull request, so rendering one record is bounded: its output (and any string or list it
builds on the way) may not exceed MAX_OUTPUT_BYTES, and it may not run longer than MAX_SECONDS. Sizes are checked
before the sandbox multiplies, pads or formats (so `{{ 'a' * 2000000000 }}` is refused at once, not after
allocating it), and time at every call, attribute, loop step over a range and output chunk; on the main thread a
timer also stops loops that call nothing.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import Namespace

from runner.datasets.materialize import TEMPLATES_DIR

MAX_OUTPUT_BYTES = 8 << 20  # one rendered record (a training example this long is far over any context limit)
MAX_SECONDS = 2.0  # to render one record


class TemplateFailure(Exception):
    """A template that cannot be loaded or rendered, with where it happened."""

    def __init__(
        self, message: str, *, template: str, template_line: int | None = None, check: str = "template_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.template_line = template_line
        # template_undefined | template_sandbox | template_limit | template_not_found | template_error
        self.check = check


def _json_default(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the variable
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


def _tojson(value: Any, indent: int | None = None) -> str:
    """JSON text of a value, non-ASCII kept as is; an undefined value fails like any other use of it."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


class RenderLimit(Exception):
    """Rendering one record went over a limit (output size or time)."""


def _limit_text(max_bytes: int) -> str:
    return f"{max_bytes >> 20} MiB" if max_bytes >= 1 << 20 and max_bytes % (1 << 20) == 0 else f"{max_bytes:,} bytes"


# a width or precision of 10,000,000 or more (beyond any limit) in a printf-style or a str.format format string
_HUGE_PRINTF_WIDTH = re.compile(r"%[^A-Za-z%]*?[1-9][0-9]{7,}")
_HUGE_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?[1-9][0-9]{7,}[^{}]*\}")
_NESTED_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\{")  # "{:{}}": the width is an argument
# methods of str, and filters ("|name"), whose output size their arguments set
_PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "|center", "|indent", "|wordwrap", "|tojson"})
_FORMATTING = frozenset({"format", "format_map"})
_REPLACING = frozenset({"replace", "|replace"})


@dataclass
class _Budget:
    max_bytes: int = MAX_OUTPUT_BYTES
    seconds: float = MAX_SECONDS
    deadline: float = float("inf")

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"rendering one record took longer than the limit of {self.seconds:g} s")

    def too_big(self) -> RenderLimit:
        return RenderLimit(f"the output of one record would exceed the limit of {_limit_text(self.max_bytes)}")

    def check_size(self, value: Any) -> Any:
        if isinstance(value, str | bytes | list | tuple | dict) and len(value) > self.max_bytes:
            raise self.too_big()
        return value

    def check_sizing(self, name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Before a method or filter that pads, repeats, replaces or formats `value`: refuse what would come out
        over the limit (a width over it, a format string naming one, a replacement that multiplies the text)."""
        if name in _PADDING:
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool) and arg > self.max_bytes:
                    raise self.too_big()
        elif name in _FORMATTING and isinstance(value, str):
            nested = _NESTED_FORMAT_WIDTH.search(value) is not None
            huge_arg = any(isinstance(a, int) and a > self.max_bytes for a in (*args, *kwargs.values()))
            if _HUGE_FORMAT_WIDTH.search(value) or (nested and huge_arg):
                raise self.too_big()
        elif name == "|format" and isinstance(value, str) and _HUGE_PRINTF_WIDTH.search(value):
            raise self.too_big()
        elif name in _REPLACING and isinstance(value, str) and len(args) >= 2:
            old, new = args[0], args[1]
            if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
                count = value.count(old) if old else len(value) + 1
                if len(value) + count * (len(new) - len(old)) > self.max_bytes:
                    raise self.too_big()


class _Range:
    """The sandbox's range (at most MAX_RANGE items), checking the clock at every step."""

    def __init__(self, budget: _Budget, rng: range) -> None:
        self._budget = budget
        self._range = rng

    def __iter__(self) -> Iterator[int]:
        tick = self._budget.tick
        for i in self._range:
            tick()
            yield i

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __repr__(self) -> str:
        return repr(self._range)


_PASSED = (jinja2.runtime.Context, jinja2.nodes.EvalContext, jinja2.Environment)  # what Jinja passes filters first


class _GuardedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with the size and time limits of one record's rendering."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self.globals["range"] = lambda *a: _Range(self.budget, safe_range(*a))
        self.globals["namespace"] = _namespace_class(self)

    @property
    def budget(self) -> _Budget:
        budget: _Budget | None = getattr(self._local, "budget", None)
        if budget is None:
            budget = self._local.budget = _Budget()
        return budget

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        budget = self.budget
        budget.tick()
        sized = (str, bytes, list, tuple)
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, sized) and isinstance(n, int) and len(seq) * max(n, 0) > budget.max_bytes:
                    raise budget.too_big()
        elif operator == "**":
            ints = isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
            if ints and right * abs(left).bit_length() > budget.max_bytes * 8:
                raise RenderLimit(f"{left} ** {right} is a number larger than the limit of one record's output")
        elif operator == "+":
            if isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > budget.max_bytes:
                raise budget.too_big()
        elif operator == "%" and isinstance(left, str) and _HUGE_PRINTF_WIDTH.search(left):
            raise budget.too_big()
        return budget.check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = __self.budget
        budget.tick()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        bound = getattr(method, "__self__", None)
        if isinstance(bound, str | bytes):
            budget.check_sizing(getattr(method, "__name__", ""), bound, args, kwargs)
        for arg in args:  # e.g. a macro calling itself on a doubled string
            budget.check_size(arg)
        return budget.check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return super().getitem(obj, argument)

    @contextmanager
    def limits(self, max_bytes: int, seconds: float) -> Iterator[_Budget]:
        """Rendering one record within these limits."""
        budget = self.budget
        budget.max_bytes, budget.seconds = max_bytes, seconds
        budget.deadline = time.monotonic() + seconds
        with _alarm(seconds, budget):
            try:
                yield budget
            finally:
                budget.deadline = float("inf")


def _namespace_class(env: _GuardedEnvironment) -> type[Namespace]:
    class _Namespace(Namespace):
        """`namespace()`: what a loop accumulates in it is held to the limits too."""

        def __setitem__(self, name: str, value: Any) -> None:
            budget = env.budget
            budget.tick()
            super().__setitem__(name, budget.check_size(value))

    return _Namespace


@contextmanager
def _alarm(seconds: float, budget: _Budget) -> Iterator[None]:
    """On the main thread, with SIGALRM free, a timer that stops a rendering past its time even in a loop that
    calls nothing; elsewhere the checks at calls, attributes and range steps do it."""
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if usable and signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
        usable = False
    if not usable:
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise RenderLimit(f"rendering one record took longer than the limit of {budget.seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _guarded_filter(env: _GuardedEnvironment, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps pass_context / pass_environment markers
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = env.budget
        budget.tick()
        values = [a for a in args if not isinstance(a, _PASSED)]
        if values:
            budget.check_sizing(f"|{name}", values[0], tuple(values[1:]), kwargs)
        return budget.check_size(fn(*args, **kwargs))

    return guarded


def make_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    env = _GuardedEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir), followlinks=False),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["tojson"] = _tojson
    for name, fn in list(env.filters.items()):
        env.filters[name] = _guarded_filter(env, name, fn)
    return env


def template_name(template: str) -> str:
    """The name under templates/ of a spec's `template:` value (`templates/x.j2` or `x.j2`)."""
    parts = Path(template).parts
    if parts and parts[0] == TEMPLATES_DIR:
        parts = parts[1:]
    if not parts or any(p in ("..", "") for p in parts) or Path(template).is_absolute():
        message = f"a template must be a file under {TEMPLATES_DIR}/: {template}"
        raise TemplateFailure(message, template=template, check="template_not_found")
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
    max_bytes: int = MAX_OUTPUT_BYTES  # of one record's output
    seconds: float = MAX_SECONDS  # to render one record

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
            raise TemplateFailure(
                f"template not found: {template}", template=template, check="template_not_found"
            ) from e

    def _render(self, context: dict[str, Any]) -> str:
        env = self.template.environment
        assert isinstance(env, _GuardedEnvironment)
        with env.limits(self.max_bytes, self.seconds) as budget:
            parts: list[str] = []
            size = 0
            for chunk in self.template.generate(context):
                size += len(chunk)
                if size > self.max_bytes:
                    raise budget.too_big()
                budget.tick()
                parts.append(chunk)
            return "".join(parts)

    def render(self, fields: Mapping[str, Any], variables: Mapping[str, Any]) -> str | None:
        """The example a record renders to, as one line of JSON text; None when the output is blank."""
        context: dict[str, Any] = {"record": dict(fields), **variables, **fields}
        try:
            out = self._render(context)
        except RenderLimit as e:
            line = _template_line(e.__traceback__, self.templates_dir)
            raise TemplateFailure(str(e), template=self.display, template_line=line, check="template_limit") from e
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
