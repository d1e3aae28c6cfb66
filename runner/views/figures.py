"""Figures as people read them: money, estimates, sizes, aligned tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape

from runner.desired import Estimate


def money(usd: float | None) -> str:
    if usd is None:
        return "unknown"
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else f"${usd:,.4f}"


def estimate_text(e: Estimate | None) -> str:
    if e is None:
        return "no estimate"
    parts = []
    if e.billed_tokens is not None:
        epochs = f"{e.epochs} epochs, " if e.epochs else ""
        parts.append(f"{epochs}{e.billed_tokens:,} billed tokens")
    parts.append(money(e.usd))
    if e.note:
        parts.append(e.note)
    return ", ".join(parts)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 32) -> str:
    """A loss curve in one line of block characters (resampled to at most `width` points)."""
    if not values:
        return ""
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[round((v - low) / span * (len(_BARS) - 1))] for v in values)


def _signed(n: int, unit: str) -> str:
    return f"{n:+,} {unit}{'' if abs(n) == 1 else 's'}"


def data_delta_text(delta: tuple[int, int] | None) -> str | None:
    """'+3 examples, +1,204 tokens'"""
    if delta is None:
        return None
    examples, tokens = delta
    return (
        "no change in examples or tokens"
        if delta == (0, 0)
        else f"{_signed(examples, 'example')}, {_signed(tokens, 'token')}"
    )


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else f"{m} min {s} s" if m else f"{s} s"


def loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def size(n: float) -> str:
    """1.2 MB"""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table (Rich markup allowed in cells is not measured, so keep cells plain)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(f"[bold]{h.ljust(w)}[/bold]" for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(escape(c.ljust(w)) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
