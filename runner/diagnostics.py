"""Errors as data: a diagnostic names what is wrong and where (file, line, experiment).

Every module reports a user's mistake as a `Diagnostic`; `FtrunError` carries one or more of them to the CLI, which
prints them and exits with the error's exit code. Users never see a traceback for their own mistakes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    experiment: str | None = None
    check: str | None = None  # a short machine-readable name, e.g. "unknown-key" or "missing_content"
    hint: str | None = None

    @property
    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "experiment": self.experiment,
            "check": self.check,
            "hint": self.hint,
        }


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # only with `plan --detailed-exitcode`
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class FtrunError(Exception):
    """A failure the user can act on. The CLI prints its diagnostics (no traceback) and exits with `exit_code`."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str | Diagnostic | Sequence[Diagnostic], *, hint: str | None = None) -> None:
        if isinstance(message, str):
            self.diagnostics: tuple[Diagnostic, ...] = (Diagnostic(Severity.ERROR, message, hint=hint),)
        elif isinstance(message, Diagnostic):
            self.diagnostics = (message,)
        else:
            self.diagnostics = tuple(message)
        super().__init__(self.diagnostics[0].message if self.diagnostics else "error")


class SpecError(FtrunError):
    """The workspace's YAML, templates or data are wrong."""


class StateError(FtrunError):
    """The state file is unreadable, locked, or stale."""


class ProviderError(FtrunError):
    """The target refused or failed a request (auth, permission, rate limit, connection)."""


class Interrupted(FtrunError):
    """The user pressed Ctrl-C; the message says what was (and was not) done."""

    exit_code = ExitCode.INTERRUPTED
