"""The plan's renderings: text (Rich markup: colour on a terminal, plain when piped), Markdown for a pull-request
comment, and JSON (the plan document itself). They decide nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape

from runner.data_delta import DataDelta
from runner.diagnostics import Diagnostic, Severity
from runner.plan import Action, Change, Mode, Plan
from runner.views.diagnostics import diagnostics_text
from runner.views.evals import blocked_lines, eval_change_lines, plan_evals_markdown
from runner.views.figures import data_delta_text, estimate_text, money

SYMBOL = {
    Action.MOVE: ("~>", "cyan"),
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
    Action.MOVE: "has moved",
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
    Action.MOVE: "to move",
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
OPTIONAL = (Action.MOVE, Action.DELETE_MODEL, Action.EVALUATE, Action.PROMOTE)  # shown only when planned


def _value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "null"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _change_lines(c: Change, plan: Plan) -> list[str]:
    sym, colour = SYMBOL[c.action]
    lines = [f"  [bold]# {escape(c.experiment)}[/bold] {HEADLINE[c.action]}: {escape(c.reason)}"]
    if c.action is Action.MOVE:
        lines.append(f"  [{colour}]{sym}[/] {escape(c.moved_from or '')} → {escape(c.experiment)}")
        lines += [f"        [dim]# {escape(note)}[/dim]" for note in c.notes]
        return lines
    lines.append(f'  [{colour}]{sym}[/] experiment [bold]"{escape(c.experiment)}"[/bold] {{')
    if c.action in (Action.CREATE, Action.ADOPT) and c.inputs:
        inputs = c.inputs
        rows = [
            ("model", _model(inputs.get("model"))),
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


# A sweep's variants are shown as one table when these are all their changes (a retrain keeps its block: its field
# changes are what a reviewer reads).
TABLED = (Action.CREATE, Action.ADOPT, Action.UPDATE_STATE, Action.EVALUATE)


def _sweep_tables(plan: Plan) -> dict[str, list[list[Change]]]:
    """Each sweep's variants shown as one table: sweep -> one list of changes per variant, in the plan's order."""
    by_variant: dict[str, dict[str, list[Change]]] = {}
    for c in plan.ordered():
        if c.sweep is not None:
            by_variant.setdefault(c.sweep, {}).setdefault(c.experiment, []).append(c)
    return {
        sweep: [cs for cs in variants.values() if all(c.action in TABLED for c in cs)]
        for sweep, variants in by_variant.items()
        if any(all(c.action in TABLED for c in cs) for cs in variants.values())
    }


def _swept_values(changes: list[Change]) -> str:
    values = changes[0].sweep_values
    return ", ".join(f"{f.rsplit('.', 1)[-1]}={v if isinstance(v, str) else json.dumps(v)}" for f, v in values)


def _sweep_evals(plan: Plan, sweep: str, variant: str) -> str:
    ranking = next((r for r in plan.sweeps if r.sweep == sweep), None)
    v = next((v for v in ranking.variants if v.experiment == variant), None) if ranking else None
    if ranking is None or v is None:
        return ""
    cells = []
    for f in v.figures:
        rate = (
            "after apply" if f.pass_rate is None and f.pending else "—" if f.pass_rate is None else f"{f.pass_rate:.2f}"
        )
        cells.append(f"{f.suite} {rate}")
    return ", ".join(cells) + (f" (#{v.rank})" if v.rank is not None else "")


def _sweep_rows(plan: Plan, sweep: str, variants: list[list[Change]]) -> list[tuple[str, ...]]:
    """variant, values, action, estimate and (when the sweep has suites) its eval figures, a row per variant."""
    evals = any(r.sweep == sweep for r in plan.sweeps)
    rows: list[tuple[str, ...]] = []
    for cs in variants:
        training = next((c for c in cs if c.action is not Action.EVALUATE), None)
        action = ", ".join(dict.fromkeys(str(c.action) for c in cs))
        est = estimate_text(training.estimate) if training is not None and training.spends else ""
        row = (cs[0].experiment, _swept_values(cs), action, est)
        rows.append((*row, _sweep_evals(plan, sweep, cs[0].experiment)) if evals else row)
    return rows


def _sweep_lines(plan: Plan, sweep: str, variants: list[list[Change]]) -> list[str]:
    rows = _sweep_rows(plan, sweep, variants)
    head = ("variant", "values", "action", "estimate", "evals")[: len(rows[0])]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    out = [f"  [bold]# sweep {escape(sweep)}[/bold]: {len(variants)} variant(s)"]
    for n, r in enumerate((head, *rows)):
        line = ("    " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))).rstrip()
        out.append(f"[dim]{escape(line)}[/dim]" if n == 0 else escape(line))
    return out


def _model(model: Any) -> str:
    """A base model, or `the model of experiment marv` for a chain."""
    if isinstance(model, dict) and "experiment" in model:
        return f"the model of experiment {model['experiment']}"
    return _value(model)


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


def selection_line(plan: Plan) -> str | None:
    """`Selected (-s marv): marv. Other experiments are left as they are.`"""
    if plan.selection is None:
        return None
    names = ", ".join(plan.selection.names)
    return f"Selected ({plan.selection.describe()}): {names}. Other experiments are left as they are."


def plan_text(plan: Plan) -> str:
    out: list[str] = []
    selected = selection_line(plan)
    if selected:
        out += [f"[bold]{escape(selected)}[/bold]", ""]
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
        out.extend(f"  [dim]{escape(note)}[/dim]" for note in plan.target_notes)
        out.append("")
        tables = _sweep_tables(plan)
        tabled = {id(c) for variants in tables.values() for cs in variants for c in cs}
        for c in plan.ordered():
            if id(c) not in tabled:
                out.extend(_change_lines(c, plan))
                out.append("")
            elif c.sweep in tables:
                out.extend(_sweep_lines(plan, c.sweep, tables.pop(c.sweep)))
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


def _text(text: str) -> str:
    """Free text safe in Markdown: angle brackets shown, not taken for HTML (`<Media omitted>` would vanish)."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _text(text).replace("|", "\\|").replace("\n", " ")


def comment_marker(workspace: str, target: str) -> str:
    """The hidden line by which a CI step finds (and updates) its own plan comment."""
    return f"<!-- ftrun-plan: {workspace}/{target} -->"


def _tally(plan: Plan) -> str:
    counts = plan.counts()
    destroying = (Action.CANCEL, Action.FORGET, Action.DELETE_MODEL)
    shown = [
        a for a in SUMMARY_WORDS if (a in destroying if plan.mode is Mode.DESTROY else a not in OPTIONAL or counts[a])
    ]
    return ", ".join(f"{counts[a]} {SUMMARY_WORDS[a]}" for a in shown)


def _status_line(plan: Plan) -> str:
    """The first line of the comment: can a reviewer merge this?"""
    errors = sum(d.severity is Severity.ERROR for d in plan.diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in plan.diagnostics)
    over = any(d.check == "over-budget" for d in plan.diagnostics)
    what = "destroy plan" if plan.mode is Mode.DESTROY else "plan"
    if errors:
        why = "over budget" if over and errors == 1 else _count(errors, "error")
        return f"❌ **ftrun {what}: {why}**, nothing can be applied until it is fixed."
    counts = plan.counts()
    changes = ", ".join(f"{n} {SUMMARY_WORDS[a]}" for a, n in counts.items() if n) or "no changes"
    if warnings or plan.drift or plan.blocked:
        notes = [_count(warnings, "warning")] if warnings else []
        if plan.drift:
            notes.append(_count(len(plan.drift), "job changed outside ftrun", "jobs changed outside ftrun"))
        if plan.blocked:
            notes.append(_count(len(plan.blocked), "promotion blocked", "promotions blocked"))
        return f"⚠ **ftrun {what}: ready, with {' and '.join(notes)}**: {changes}."
    return f"✅ **ftrun {what}: ready**: {changes}."


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _data_cell(c: Change, plan: Plan, deltas: Mapping[str, DataDelta]) -> str:
    """marv.jsonl: 13 examples, 1,204 tokens (+1 example, +42 tokens)"""
    d = deltas.get(c.experiment)
    if d is None:
        return f"`{_cell(plan.data[c.data[0]])}`" if c.data and c.data[0] in plan.data else ""
    tokens = f", {d.tokens:,} tokens" if d.tokens is not None else ""
    change = data_delta_text(d.change) if c.action in (Action.RETRAIN, Action.ADOPT) else None
    return f"`{_cell(d.file)}`: {d.examples:,} examples{tokens}" + (f" ({change})" if change else "")


def _budget_line(plan: Plan) -> str:
    spend = money(plan.new_spend_usd)
    billed = f" ({plan.new_billed_tokens:,} billed tokens)" if plan.new_billed_tokens else ""
    if plan.budget_max_usd is None:
        return f"**Budget:** new spending **{spend}**{billed}; no budget is set (`budget.max_usd` in ftrun.yaml)."
    over = plan.new_spend_usd is not None and plan.new_spend_usd > plan.budget_max_usd
    verdict = "over the budget" if over else "within the budget" if plan.new_spend_usd is not None else "budget"
    return f"**Budget:** new spending **{spend}**{billed}, {verdict} of {money(plan.budget_max_usd)}."


_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠", Severity.INFO: "ℹ"}


def _diagnostic_lines(diagnostics: Sequence[Diagnostic], per_check_limit: int = 10) -> list[str]:
    out: list[str] = []
    shown: dict[tuple[str | None, str | None], int] = {}
    hidden: dict[tuple[str | None, str | None], int] = {}
    for d in sorted(diagnostics, key=lambda d: list(Severity).index(d.severity)):
        key = (d.check, d.file)
        shown[key] = shown.get(key, 0) + 1
        if d.check and shown[key] > per_check_limit:
            hidden[key] = hidden.get(key, 0) + 1
            continue
        check = f"`{d.check}` " if d.check else ""
        where = f"`{d.location}`: " if d.location else f"`{d.experiment}`: " if d.experiment else ""
        hint = f" (hint: {_text(d.hint)})" if d.hint else ""
        out.append(f"- {_ICON[d.severity]} {check}{where}{_text(d.message)}{hint}")
    out += [f"- … and {n} more `{check}` findings in `{file}`" for (check, file), n in hidden.items()]
    return out


def _plain(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup, emoji=False).plain


def plan_markdown(plan: Plan, deltas: Mapping[str, DataDelta] | None = None) -> str:
    """A pull-request comment a reviewer can decide from: the verdict first, then each change with its model, data
    (and the delta in examples and tokens against the current run) and estimate, the uploads, the budget, the
    diagnostics, the full text plan folded away, how to apply, and the marker a CI step finds its comment by."""
    deltas = deltas or {}
    title = "destroy plan" if plan.mode is Mode.DESTROY else "plan"
    out = [_status_line(plan), "", f"### ftrun {title} for `{plan.workspace}` on target `{plan.target}`", ""]
    selected = selection_line(plan)
    if selected:
        out += [selected, ""]
    if plan.target_notes:
        out += [*(f"> {_text(note)}" for note in plan.target_notes), ""]
    if plan.drift:
        out.append("**Changed outside ftrun:**")
        out += [f"- `{d.experiment}`: job `{d.job_id}` {d.recorded_status} → {d.remote_status}" for d in plan.drift]
        out.append("")
    noted = [c for c in plan.changes if c.action is Action.NOOP and c.notes]
    if noted:
        out.append("**Left as they are:**")
        out += [f"- `{c.experiment}`: {_text(c.reason)}; {'; '.join(_text(n) for n in c.notes)}" for c in noted]
        out.append("")
    if not plan.has_changes:
        out += [f"No changes: the experiments match the state of target `{plan.target}`.", ""]
    else:
        tables = _sweep_tables(plan)
        tabled = {id(c) for variants in tables.values() for cs in variants for c in cs}
        rest = [c for c in plan.ordered() if id(c) not in tabled]
        if rest:
            out.append("| | experiment | action | why | model | data | estimate |")
            out.append("|---|---|---|---|---|---|---|")
        for c in rest:
            sym = SYMBOL[c.action][0]
            est = estimate_text(c.estimate) if c.spends else ""
            reason = _cell(c.reason) + (f": `{c.model}`" if c.model else "")
            model = (c.inputs or {}).get("model")
            model_cell = f"`{_cell(str(model))}`" if model else ""
            out.append(
                f"| `{sym}` | `{c.experiment}` | {c.action} | {reason} | {model_cell} | "
                f"{_data_cell(c, plan, deltas)} | {_cell(est)} |"
            )
        if rest:
            out.append("")
        for sweep, variants in tables.items():
            rows = _sweep_rows(plan, sweep, variants)
            head = ("variant", "values", "action", "estimate", "evals")[: len(rows[0])]
            out += [f"**Sweep `{sweep}`:** {_count(len(variants), 'variant')}", ""]
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            out += [f"| `{r[0]}` | " + " | ".join(_cell(x) for x in r[1:]) + " |" for r in rows]
            out.append("")
        if plan.uploads:
            total = sum(u.bytes for u in plan.uploads)
            out.append(f"**Uploads:** {_count(len(plan.uploads), 'file')}, {total:,} bytes (each distinct file once)")
            out += [f"- `{u.display}`: {u.examples:,} examples, {u.bytes:,} bytes" for u in plan.uploads]
            out.append("")
        fields = [(c, f) for c in plan.ordered() for f in c.fields]
        if fields:
            out.append("<details><summary>Field changes</summary>")
            out.append("")
            out += [f"- `{c.experiment}`: `{f.path}`: `{_value(f.old)}` → `{_value(f.new)}`" for c, f in fields]
            out.append("")
            out.append("</details>")
            out.append("")
        if plan.mode is Mode.DESTROY:
            out += [f"**Destroy plan:** {_tally(plan)}.", ""]
        else:
            out += [f"**Plan:** {_tally(plan)}.", ""]
    out += [_budget_line(plan), ""]
    evals = plan_evals_markdown(plan)
    if evals:
        out += [evals.rstrip("\n"), ""]
    if plan.diagnostics:
        out += ["**Diagnostics:**", *_diagnostic_lines(plan.diagnostics), ""]
    out += ["<details><summary>Full plan</summary>", "", "```text", _plain(plan_text(plan)), "```", ""]
    out += ["</details>", ""]
    if plan.has_errors:
        out.append("**To apply:** fix the errors above; the plan is made again on the next push.")
    elif plan.has_changes:
        verb = "ftrun apply" if plan.mode is Mode.APPLY else "ftrun destroy"
        out.append(
            f"**To apply:** merge this pull request (CI applies the plan it saved), or run `{verb}` "
            "on the merged branch. A plan made stale by another change is refused, never applied blindly."
        )
    else:
        out.append("**To apply:** nothing to do.")
    out += ["", comment_marker(plan.workspace, plan.target)]
    return "\n".join(out) + "\n"


def plan_error_markdown(workspace: str, target: str, diagnostics: Sequence[Diagnostic]) -> str:
    """The comment when no plan could be made (the specs or the data do not pass their checks): still a comment,
    starting with ❌, that lists what to fix."""
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    out = [
        f"❌ **ftrun plan: {_count(max(errors, 1), 'error')}**, no plan could be made.",
        "",
        f"### ftrun plan for `{workspace}` on target `{target}`",
        "",
        "**Diagnostics:**",
    ]
    out += _diagnostic_lines(diagnostics) or ["- ❌ no plan could be made"]
    out += ["", "**To apply:** fix the errors above; the plan is made again on the next push."]
    out += ["", comment_marker(workspace, target)]
    return "\n".join(out) + "\n"


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)
