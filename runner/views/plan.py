"""Renderers: turn a plan, a status table or diagnostics into text. They decide nothing.

Text uses Rich markup (colour on a terminal; the console drops it when piped or NO_COLOR is set). Markdown is for
pull-request comments. JSON is the plan document itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.markup import escape

from runner.datasets import Dataset
from runner.diagnostics import Diagnostic, Severity
from runner.plan import Action, Change, Estimate, Plan

SYMBOL = {
    Action.CREATE: ("+", "green"),
    Action.RETRAIN: ("-/+", "yellow"),
    Action.ADOPT: ("<=", "cyan"),
    Action.UPDATE_STATE: ("~", "yellow"),
    Action.CANCEL: ("-", "red"),
    Action.FORGET: ("-", "red"),
    Action.NOOP: (" ", "dim"),
}

HEADLINE = {
    Action.CREATE: "will be created",
    Action.RETRAIN: "must be retrained",
    Action.ADOPT: "will adopt an existing job",
    Action.UPDATE_STATE: "will be updated in state only",
    Action.CANCEL: "will be cancelled and forgotten",
    Action.FORGET: "will be forgotten",
}

SUMMARY_WORDS = {
    Action.CREATE: "to create",
    Action.RETRAIN: "to retrain",
    Action.ADOPT: "to adopt",
    Action.UPDATE_STATE: "to update",
    Action.CANCEL: "to cancel",
    Action.FORGET: "to forget",
}


def _value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "null"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


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


def _change_lines(c: Change, plan: Plan) -> list[str]:
    sym, colour = SYMBOL[c.action]
    lines = [f"  [bold]# {escape(c.experiment)}[/bold] {HEADLINE[c.action]}: {escape(c.reason)}"]
    lines.append(f'  [{colour}]{sym}[/] experiment [bold]"{escape(c.experiment)}"[/bold] {{')
    if c.action in (Action.CREATE, Action.ADOPT) and c.inputs:
        inputs = c.inputs
        rows = [
            ("model", _value(inputs.get("model"))),
            ("suffix", _value(inputs.get("suffix"))),
            ("method", _method(inputs.get("method"))),
            ("seed", _value(inputs.get("seed"))),
            ("training_file", _data(inputs.get("training_file"), plan)),
        ]
        if inputs.get("validation_file"):
            rows.append(("validation_file", _data(inputs.get("validation_file"), plan)))
        width = max(len(k) for k, _ in rows)
        for key, val in rows:
            lines.append(f"      [{colour}]{sym}[/] {key.ljust(width)} = {escape(val)}")
    for f in c.fields:
        old, new = f.old, f.new
        if f.path in ("training_file", "validation_file"):
            old_s, new_s = _data(old, plan), _data(new, plan)
        else:
            old_s, new_s = _value(old), _value(new)
        lines.append(f"      [yellow]~[/] {escape(f.path)} = {escape(old_s)} [dim]->[/dim] {escape(new_s)}")
    if c.supersedes:
        lines.append(f"      [red]-[/] job {escape(c.supersedes)} (still active) will be cancelled first")
    if c.job_id and c.action in (Action.CANCEL, Action.FORGET, Action.ADOPT):
        lines.append(f"        job = {escape(c.job_id)}")
    if c.spends:
        lines.append(f"      [dim]# estimate: {escape(estimate_text(c.estimate))}[/dim]")
    for note in c.notes:
        lines.append(f"        [dim]# {escape(note)}[/dim]")
    lines.append("    }")
    return lines


def _method(method: Any) -> str:
    """supervised (n_epochs=auto, batch_size=4)"""
    if not isinstance(method, dict):
        return _value(method)
    params = ", ".join(f"{k}={v}" for k, v in sorted((method.get("hyperparameters") or {}).items()))
    return f"{method.get('type')} ({params})" if params else str(method.get("type"))


def _data(sha: Any, plan: Plan) -> str:
    if not isinstance(sha, str):
        return _value(sha)
    name = plan.data.get(sha)
    return f"{name} (sha256 {sha[:12]})" if name else f"sha256 {sha[:12]}"


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    parts = [
        f"{counts[a]} {SUMMARY_WORDS[a]}" for a in SUMMARY_WORDS if counts[a] or a in (Action.CREATE, Action.RETRAIN)
    ]
    spend = f" New spending: {money(plan.new_spend_usd)}"
    if plan.new_billed_tokens:
        spend += f" ({plan.new_billed_tokens:,} billed tokens)"
    if plan.budget_max_usd is not None:
        spend += f", budget {money(plan.budget_max_usd)}"
    return f"[bold]Plan:[/bold] {', '.join(parts)}.{spend}."


def plan_text(plan: Plan) -> str:
    out: list[str] = []
    if plan.drift:
        out.append("[bold yellow]Note: jobs changed outside ftrun:[/bold yellow]")
        for d in plan.drift:
            out.append(
                f"  [yellow]![/] {escape(d.experiment)}: job {escape(d.job_id)} was {escape(d.recorded_status)}, "
                f"now {escape(d.remote_status)} ({escape(d.message)})"
            )
        out.append("")
    if plan.refresh:
        out.append("[dim]Job statuses that changed since state was written (apply records them):[/dim]")
        for r in plan.refresh:
            out.append(
                f"  [dim]{escape(r.experiment)}: job {escape(r.job_id)} {escape(r.old_status)} -> "
                f"{escape(r.job.status)}[/dim]"
            )
        out.append("")
    for c in plan.changes:
        if c.action is Action.NOOP and c.notes:
            out.append(f"  [bold]# {escape(c.experiment)}[/bold]: {escape(c.reason)}")
            for note in c.notes:
                out.append(f"    [yellow]![/] {escape(note)}")
            out.append("")
    if not plan.has_changes:
        out.append(
            f"[bold green]No changes.[/bold green] The experiments match the state of target '{escape(plan.target)}'."
        )
    else:
        out.append(
            f"ftrun will perform these actions on target [bold]'{escape(plan.target)}'[/bold] "
            f"({escape(plan.endpoint)}):"
        )
        out.append("")
        for c in plan.ordered():
            out.extend(_change_lines(c, plan))
            out.append("")
        if plan.uploads:
            total = sum(u.bytes for u in plan.uploads)
            out.append(f"Uploads: {len(plan.uploads)} file(s), {total:,} bytes (each distinct file once):")
            for u in plan.uploads:
                out.append(f"  [green]+[/] {escape(u.display)} (sha256 {u.sha256[:12]}, {u.examples} examples)")
            out.append("")
        out.append(summary_line(plan))
    if plan.diagnostics:
        out.append("")
        out.extend(diagnostics_text(plan.diagnostics))
    return "\n".join(out)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment."""
    out = [f"### ftrun plan for `{plan.workspace}` on target `{plan.target}`", ""]
    if plan.drift:
        out.append("**Changed outside ftrun:**")
        out += [f"- `{d.experiment}`: job `{d.job_id}` {d.recorded_status} → {d.remote_status}" for d in plan.drift]
        out.append("")
    if not plan.has_changes:
        out.append("No changes.")
    else:
        out.append("| | experiment | action | why | estimate |")
        out.append("|---|---|---|---|---|")
        for c in plan.ordered():
            sym = SYMBOL[c.action][0]
            est = estimate_text(c.estimate) if c.spends else ""
            reason = c.reason.replace("|", "\\|")
            out.append(f"| `{sym}` | `{c.experiment}` | {c.action} | {reason} | {est} |")
        out.append("")
        fields = [(c, f) for c in plan.ordered() for f in c.fields]
        if fields:
            out.append("<details><summary>Field changes</summary>")
            out.append("")
            out += [f"- `{c.experiment}`: `{f.path}`: `{_value(f.old)}` → `{_value(f.new)}`" for c, f in fields]
            out.append("")
            out.append("</details>")
            out.append("")
        counts = plan.counts()
        out.append(
            "**Plan:** "
            + ", ".join(f"{counts[a]} {SUMMARY_WORDS[a]}" for a in SUMMARY_WORDS)
            + f". New spending: **{money(plan.new_spend_usd)}**"
            + (f" ({plan.new_billed_tokens:,} billed tokens)." if plan.new_billed_tokens else ".")
        )
    errors = [d for d in plan.diagnostics if d.severity is Severity.ERROR]
    warnings = [d for d in plan.diagnostics if d.severity is Severity.WARNING]
    for title, group in (("Errors", errors), ("Warnings", warnings)):
        if group:
            out += ["", f"**{title}:**"]
            out += [f"- {d.location + ': ' if d.location else ''}{d.message}" for d in group]
    return "\n".join(out) + "\n"


def dataset_report(ds: Dataset) -> list[str]:
    """What `validate` says about one data file: size, token distribution, findings per check."""
    lines = [f"  [bold]{escape(ds.display)}[/bold] ({ds.role}, sha256 {ds.sha256[:12]}, {ds.bytes:,} bytes)"]
    st = ds.stats
    if st is not None:
        lines.append(
            f"    {st.examples:,} examples, {st.total_tokens:,} tokens ({st.assistant_tokens:,} trained), {st.encoding}"
        )
        lines.append(
            f"    tokens per example: p10 {st.p10:,}, p50 {st.p50:,}, p90 {st.p90:,}, max {st.max:,}; "
            f"{st.over_limit:,} over the {st.context_limit:,}-token limit"
        )
        if st.missing_system or st.missing_user:
            lines.append(
                f"    {st.missing_system:,} without a system message, {st.missing_user:,} without a user message"
            )
    else:
        lines.append(f"    {ds.examples:,} examples")
    for check, n in ds.check_counts:
        lines.append(f"    [yellow]{escape(check)}[/yellow]: {n:,}")
    return lines


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table (Rich markup allowed in cells is not measured, so keep cells plain)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(f"[bold]{h.ljust(w)}[/bold]" for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(escape(c.ljust(w)) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
