"""Diagnostics as text: each on its own line with file:line and check; a check that fires often is summarised."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape

from runner.diagnostics import Diagnostic


def diagnostic_text(d: Diagnostic) -> str:
    colour = {"error": "red", "warning": "yellow", "info": "blue"}[str(d.severity)]
    where = f"{escape(d.location)}: " if d.location else ""
    exp = escape(f"[{d.experiment}] ") if d.experiment and not d.location else ""
    check = f" [dim]({escape(d.check)})[/dim]" if d.check else ""
    text = f"[bold {colour}]{d.severity}[/]: {where}{exp}{escape(d.message)}{check}"
    if d.hint:
        text += f"\n  [dim]hint: {escape(d.hint)}[/dim]"
    return text


def diagnostics_text(diags: Iterable[Diagnostic], *, per_check_limit: int = 5) -> list[str]:
    """Each diagnostic on its own line; a check that fires many times is summarised after its first few."""
    out: list[str] = []
    shown: dict[tuple[str | None, str | None], int] = {}
    hidden: dict[tuple[str | None, str | None], int] = {}
    for d in diags:
        key = (d.check, d.file)
        shown[key] = shown.get(key, 0) + 1
        if d.check and shown[key] > per_check_limit:
            hidden[key] = hidden.get(key, 0) + 1
            continue
        out.append(diagnostic_text(d))
    for (check, file), n in hidden.items():
        out.append(f"  [dim]… and {n} more '{escape(check or '')}' findings in {escape(file or '?')}[/dim]")
    return out
