"""The plan's renderings: text (Rich markup: colour on a terminal, plain when piped), Markdown for a pull-request
comment, and JSON (the plan document itself). They decide nothing."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape

from runner.diagnostics import Severity
from runner.plan import Action, Change, Mode, Plan
from runner.views.diagnostics import diagnostics_text
from runner.views.evals import blocked_lines, eval_change_lines, plan_evals_markdown
from runner.views.figures import estimate_text, money

SYMBOL = {
    Action.CREATE: ("+", "green"),
    Action.RETRAIN: ("-/+", "yellow"),
    Action.ADOPT: ("<=", "cyan"),
    Action.UPDATE_STATE: ("~", "yellow"),
    Action.CANCEL: ("-", "red"),
    Action.FORGET: ("-", "red"),
    Action.DELETE_MODEL: ("x", "red"),
    Action.EVALUATE: ("?", "magenta"),
    Action.PROMOTE: ("@", "green"),
    Action.NOOP: (" ", "dim"),
}

HEADLINE = {
    Action.CREATE: "will be created",
    Action.RETRAIN: "must be retrained",
    Action.ADOPT: "will adopt an existing job",
    Action.UPDATE_STATE: "will be updated in state only",
    Action.CANCEL: "will be cancelled and forgotten",
    Action.FORGET: "will be forgotten",
    Action.DELETE_MODEL: "model will be deleted",
    Action.EVALUATE: "will be evaluated",
    Action.PROMOTE: "alias will move",
}

SUMMARY_WORDS = {
    Action.CREATE: "to create",
    Action.RETRAIN: "to retrain",
    Action.ADOPT: "to adopt",
    Action.UPDATE_STATE: "to update",
    Action.CANCEL: "to cancel",
    Action.FORGET: "to forget",
    Action.DELETE_MODEL: "model(s) to delete",
    Action.EVALUATE: "to evaluate",
    Action.PROMOTE: "to promote",
}

# Counted in a summary only when the plan has some.
OPTIONAL = (Action.DELETE_MODEL, Action.EVALUATE, Action.PROMOTE)


def _value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "null"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


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
    if c.job_id and c.action in (Action.CANCEL, Action.FORGET, Action.ADOPT, Action.DELETE_MODEL):
        lines.append(f"        job = {escape(c.job_id)}")
    if c.model:
        lines.append(f"      [{colour}]{sym}[/] model = {escape(c.model)}")
    lines += eval_change_lines(c)
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
    always = (Action.CANCEL, Action.FORGET) if plan.mode is Mode.DESTROY else (Action.CREATE, Action.RETRAIN)
    parts = [f"{counts[a]} {SUMMARY_WORDS[a]}" for a in SUMMARY_WORDS if counts[a] or a in always]
    if plan.mode is Mode.DESTROY:
        return f"[bold]Destroy plan:[/bold] {', '.join(parts)}."
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
    if not plan.has_changes and plan.mode is Mode.DESTROY:
        out.append(
            f"[bold green]Nothing to destroy.[/bold green] The state of target '{escape(plan.target)}' is empty."
        )
    elif not plan.has_changes:
        out.append(
            f"[bold green]No changes.[/bold green] The experiments match the state of target '{escape(plan.target)}'."
        )
    else:
        verb = "destroy these" if plan.mode is Mode.DESTROY else "perform these actions"
        out.append(f"ftrun will {verb} on target [bold]'{escape(plan.target)}'[/bold] ({escape(plan.endpoint)}):")
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
    out += blocked_lines(plan)
    if plan.diagnostics:
        out.append("")
        out.extend(diagnostics_text(plan.diagnostics))
    return "\n".join(out)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment."""
    title = "destroy plan" if plan.mode is Mode.DESTROY else "plan"
    out = [f"### ftrun {title} for `{plan.workspace}` on target `{plan.target}`", ""]
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
            reason = c.reason.replace("|", "\\|") + (f": `{c.model}`" if c.model else "")
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
        destroying = (Action.CANCEL, Action.FORGET, Action.DELETE_MODEL)
        shown = [
            a
            for a in SUMMARY_WORDS
            if (a in destroying if plan.mode is Mode.DESTROY else a not in OPTIONAL or counts[a])
        ]
        tally = ", ".join(f"{counts[a]} {SUMMARY_WORDS[a]}" for a in shown)
        if plan.mode is Mode.DESTROY:
            out.append(f"**Destroy plan:** {tally}.")
        else:
            out.append(
                f"**Plan:** {tally}. New spending: **{money(plan.new_spend_usd)}**"
                + (f" ({plan.new_billed_tokens:,} billed tokens)." if plan.new_billed_tokens else ".")
            )
    evals = plan_evals_markdown(plan)
    if evals:
        out += ["", evals.rstrip("\n")]
    errors = [d for d in plan.diagnostics if d.severity is Severity.ERROR]
    warnings = [d for d in plan.diagnostics if d.severity is Severity.WARNING]
    for title, group in (("Errors", errors), ("Warnings", warnings)):
        if group:
            out += ["", f"**{title}:**"]
            out += [f"- {d.location + ': ' if d.location else ''}{d.message}" for d in group]
    return "\n".join(out) + "\n"


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)
