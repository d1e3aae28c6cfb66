"""The command line: parses arguments, wires the pieces, and is the only place that prints or exits.

What each command shows is rendered by runner.views; this module decides only what to call and how to exit.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from runner import __version__, pipeline
from runner.completion import experiment_names
from runner.diagnostics import (
    Diagnostic,
    ExitCode,
    FtrunError,
    Interrupted,
    ProviderError,
    Severity,
    SpecError,
    StateError,
    has_errors,
)
from runner.job_status import JobStatus
from runner.remote import Provider
from runner.selection import Candidate, Selection, candidates_of, select, select_options
from runner.state import ExperimentState, State, StateStore, sweep_alias
from runner.views.diagnostics import diagnostics_text
from runner.views.text import printable
from runner.workspace import Target, Workspace, find_root, load_workspace

# What only some commands need is imported by those commands: every command starts quickly.
if TYPE_CHECKING:
    from runner.apply import Applier
    from runner.evals.judges import Chat
    from runner.lock import LockInfo
    from runner.plan import Mode, Plan

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, directory: str | None, target: str | None, color: bool | None) -> None:
        self.directory = Path(directory) if directory else Path.cwd()
        self.target_name = target
        # Colour on a terminal, plain when piped or NO_COLOR is set; --color forces it, --no-color drops it.
        no_color = color is False or (color is None and bool(os.environ.get("NO_COLOR")))
        force = True if color else None
        # No emoji codes: a model id such as ft:gpt-4.1:personal:x:abc must print as written, not as a ❌.
        self.out = Console(highlight=False, emoji=False, no_color=no_color, force_terminal=force, soft_wrap=True)
        self.err = Console(
            stderr=True, highlight=False, emoji=False, no_color=no_color, force_terminal=force, soft_wrap=True
        )
        self._ws: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = load_workspace(find_root(self.directory))
        return self._ws

    @property
    def target(self) -> Target:
        return self.ws.target(self.target_name)

    @property
    def store(self) -> StateStore:
        return StateStore(self.ws.state_path(self.target))

    def provider(self) -> Provider:
        return self.provider_for(self.target)

    def provider_for(self, target: Target) -> Provider:
        if target.kind == "local":  # reads without loading the SDK (see runner.local_target)
            from runner import local_target

            return local_target.connect(self.ws, target)
        from runner.provider import connect

        return connect(self.ws, target)

    def warn(self, diags: Sequence[Any]) -> None:
        for line in diagnostics_text(diags):
            self.err.print(line)

    def lock(self, operation: str) -> Any:
        """The target's state lock; a lock left by a holder that died on this host is taken over, with a warning."""

        from runner import lock

        def taken_over(dead: LockInfo) -> None:
            self.err.print(
                f"[bold yellow]warning[/]: took over the state lock left by {escape(dead.describe())}, "
                "which is no longer running"
            )

        return lock.hold(self.ws.lock_path(self.target), operation, on_takeover=taken_over)


def _handle_errors(fn: F) -> F:
    """Errors the user can act on print as diagnostics; Ctrl-C says what was left; anything else is one line and a
    log file with the traceback (secrets redacted). Never a bare traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        err = ctx.err if ctx else Console(stderr=True, highlight=False, emoji=False)
        try:
            return fn(*args, **kwargs)
        except FtrunError as e:
            for line in diagnostics_text(e.diagnostics, per_check_limit=10):
                err.print(line)
            sys.exit(e.exit_code)
        except (KeyboardInterrupt, click.Abort):
            err.print("[yellow]interrupted[/yellow]")
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as e:  # noqa: BLE001 - the one place an unexpected error becomes a line and a log file
            from runner import crashlog

            where = crashlog.write(e, ctx._ws if ctx else None)
            err.print(
                f"[bold red]error[/]: ftrun failed unexpectedly ({escape(type(e).__name__)}); "
                f"the details are in {escape(str(where))}"
            )
            sys.exit(ExitCode.ERROR)

    return wrapper  # type: ignore[return-value]


class FtrunGroup(click.Group):
    """Usage errors exit 1, never 2: `plan --detailed-exitcode` uses 2 for "changes present"."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, standalone_mode: bool = True, **kw: Any
    ) -> Any:
        try:
            result = super().main(args, prog_name, standalone_mode=False, **kw)
            code = result if isinstance(result, int) else ExitCode.OK
        except click.ClickException as e:
            e.show()
            code = ExitCode.ERROR
        except click.Abort:
            click.echo("interrupted", err=True)
            code = ExitCode.INTERRUPTED
        if standalone_mode:
            sys.exit(code)
        return code


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=FtrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", metavar="DIR", help="Run in the workspace at DIR instead of the current directory.")
@click.option("--target", "-t", metavar="NAME", help="The target to act on (default: ftrun.yaml's default_target).")
@click.option("--color/--no-color", default=None, help="Force or disable colour (default: colour on a terminal).")
@click.version_option(__version__, prog_name="ftrun")
@click.pass_context
def cli(ctx: click.Context, directory: str | None, target: str | None, color: bool | None) -> None:
    """ftrun: fine-tuning as code. Plan and apply fine-tuning experiments declared in YAML."""
    ctx.obj = Context(directory, target, color)


# -- shared steps --------------------------------------------------------------------------------------------------
def _load(c: Context, only: Sequence[str] = ()) -> pipeline.Loaded:
    loaded = pipeline.load(c.ws, c.target, only=only)
    if has_errors(loaded.diagnostics):
        raise SpecError(loaded.diagnostics)
    return loaded


def _plan(
    c: Context,
    loaded: pipeline.Loaded | None,
    state: State,
    provider: Provider,
    retrain: Sequence[str] = (),
    *,
    mode: Mode | None = None,
    delete_models: bool = False,
    selection: Selection | None = None,
) -> Plan:
    """The plan against the target's state, from one refresh of the target (loaded is None in destroy mode)."""
    from runner.plan import Mode, make_plan

    names = {e.name for e in loaded.experiments} if loaded else set()
    unknown = [n for n in retrain if n not in names]
    if unknown:
        raise SpecError(f"--retrain names no experiment: {', '.join(unknown)}")
    snap = pipeline.snapshot(provider, state, c.ws)
    model_diags = _unknown_models(c, loaded, provider, selection)
    return make_plan(
        loaded.desired if loaded else (),
        state,
        snap,
        target=c.target.name,
        endpoint=c.target.endpoint,
        workspace=c.ws.name,
        retrain=frozenset(retrain),
        budget_max_usd=c.ws.budget_max_usd,
        diagnostics=[*(d for d in loaded.diagnostics if d.severity is not Severity.ERROR), *model_diags]
        if loaded
        else (),
        mode=mode or Mode.APPLY,
        delete_models=delete_models,
        selection=selection,
        target_notes=c.target.notes,
    )


def _unknown_models(
    c: Context, loaded: pipeline.Loaded | None, provider: Provider, selection: Selection | None
) -> list[Diagnostic]:
    """The experiments whose base model the target does not offer, asked of the target once, before any upload."""
    from runner.target_models import unknown_models

    desired = [d for d in (loaded.desired if loaded else ()) if selection is None or d.experiment.name in selection]
    if not desired:
        return []
    try:
        offered = provider.list_models()
    except ProviderError as e:
        return [
            Diagnostic(
                Severity.WARNING,
                f"could not list the models of target '{c.target.name}', so base models are not checked: {e}",
                check="models-unlisted",
            )
        ]
    return unknown_models(desired, offered, c.target, c.ws.defaults.key_line(("model",)))


def _select(c: Context, selectors: Sequence[str], excludes: Sequence[str], state: State) -> Selection | None:
    """The experiments --select/--exclude choose among the specs and what state records (None: all of them)."""
    if not selectors and not excludes:
        return None
    from runner.chains import upstream_of
    from runner.spec import load_experiments

    specs, diags = load_experiments(c.ws)  # problems in the specs are reported when they are loaded for real
    found = candidates_of(
        (Candidate(e.name, e.labels, e.sweep, e.moved_from) for e in specs),
        {n: es.metadata for n, es in state.experiments.items()},
    )
    upstream = upstream_of(specs)
    try:
        return select(selectors, excludes, found, lambda name: upstream.get(name, ()))
    except FtrunError:
        if has_errors(diags):  # what it was meant to match may be in a spec that does not load
            raise SpecError(diags) from None
        raise


def _print_plan(c: Context, p: Plan, *, as_json: bool = False) -> None:
    from runner.views.plan import plan_json, plan_text

    if as_json:
        c.out.print_json(plan_json(p))
    else:
        c.out.print(plan_text(p))


def _plan_error_markdown(c: Context, e: FtrunError) -> str:
    """The ❌ comment for a plan that could not be made, named by the workspace and target when they can be read."""
    try:
        workspace, target = c.ws.name, c.target.name
    except FtrunError:
        workspace, target = c.directory.resolve().name, c.target_name or "default"
    from runner.views.plan import plan_error_markdown

    return plan_error_markdown(workspace, target, e.diagnostics)


def _confirm(c: Context, question: str) -> None:
    if not sys.stdin.isatty():
        raise FtrunError(
            "confirmation needed, but the input is not a terminal",
            hint="run with --auto-approve to go ahead without asking",
        )
    c.out.print(f"\n[bold]{question}[/bold]\n  Only 'yes' will be accepted.")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except (KeyboardInterrupt, click.Abort):
        raise Interrupted("interrupted at the prompt: nothing was changed") from None
    if answer.strip() != "yes":
        raise FtrunError("cancelled: nothing was changed")


# -- commands ------------------------------------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_ctx
@_handle_errors
def validate(c: Context, as_json: bool) -> None:
    """Check the specs and the data they train on, without contacting the target."""
    from runner.target_models import offline_diagnostics
    from runner.views.validation import validate_document, validate_lines

    loaded = pipeline.load(c.ws, c.target)
    found = offline_diagnostics(loaded.desired, c.target, c.ws.defaults.key_line(("model",)))
    loaded = replace(loaded, diagnostics=(*loaded.diagnostics, *found))
    if as_json:
        doc = validate_document(loaded.desired, loaded.diagnostics)
        c.out.print_json(json.dumps(doc, ensure_ascii=False))
    else:
        c.warn(loaded.diagnostics)
        if not has_errors(loaded.diagnostics):
            for line in validate_lines(loaded.desired):
                c.out.print(line)
    if has_errors(loaded.diagnostics):
        sys.exit(ExitCode.ERROR)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plan document as JSON.")
@click.option("--markdown", is_flag=True, help="Print the plan as Markdown (for a pull-request comment).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 1 on error, 2 when changes.")
@click.option(
    "--retrain",
    multiple=True,
    metavar="NAME",
    shell_complete=experiment_names,
    help="Plan a retrain of NAME even if nothing changed.",
)
@click.option("--destroy", is_flag=True, help="Plan the removal of everything in state (what `ftrun destroy` does).")
@click.option("--delete-models", is_flag=True, help="With --destroy: delete the fine-tuned models too.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the plan to FILE; `ftrun apply FILE` then applies exactly it (or refuses if stale).",
)
@select_options
@pass_ctx
@_handle_errors
def plan(
    c: Context,
    as_json: bool,
    markdown: bool,
    detailed_exitcode: bool,
    retrain: tuple[str, ...],
    destroy: bool,
    delete_models: bool,
    out: Path | None,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Show what apply would do: what would train, why, from which data and at what cost."""
    if delete_models and not destroy:
        raise FtrunError("--delete-models goes with --destroy (a plan never deletes models otherwise)")
    from runner.plan import Mode

    try:
        state = c.store.load_or_new(c.target.name)
        selection = _select(c, selectors, excludes, state)
        loaded = None if destroy else _load(c, selection.names if selection else ())
        mode = Mode.DESTROY if destroy else Mode.APPLY
        p = _plan(c, loaded, state, c.provider(), retrain, mode=mode, delete_models=delete_models, selection=selection)
    except FtrunError as e:
        if markdown:  # the pull request still gets its comment, saying what to fix
            c.out.out(_plan_error_markdown(c, e), highlight=False, end="")
        raise
    from runner.views.plan import plan_json, plan_markdown

    if out is not None and not p.has_errors:
        out.write_text(plan_json(p) + "\n", encoding="utf-8")
    if markdown:
        from runner.data_delta import data_deltas

        c.out.out(plan_markdown(p, data_deltas(loaded.desired if loaded else (), state)), highlight=False, end="")
    else:
        _print_plan(c, p, as_json=as_json)
    if p.has_errors:
        sys.exit(ExitCode.ERROR)
    if detailed_exitcode and p.has_changes:
        sys.exit(ExitCode.CHANGES)


@cli.command()
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--wait", is_flag=True, help="Track the jobs until they finish, with progress.")
@click.option(
    "--retrain",
    multiple=True,
    metavar="NAME",
    shell_complete=experiment_names,
    help="Retrain NAME even if nothing changed.",
)
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="With --wait: give up after SECONDS.")
@click.option("--json", "as_json", is_flag=True, help="Print what happens as JSON lines (needs --auto-approve).")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@select_options
@pass_ctx
@_handle_errors
def apply(
    c: Context,
    auto_approve: bool,
    wait: bool,
    retrain: tuple[str, ...],
    timeout: float | None,
    as_json: bool,
    plan_file: Path | None,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Make the target match the experiments: upload data once, create, track or cancel jobs.

    With PLAN_FILE (from `ftrun plan --out`), apply exactly that plan without asking, or refuse if it is stale.
    """
    from runner.plan import Mode, stale_reasons

    saved = _read_saved_plan(plan_file) if plan_file else None
    if as_json and not auto_approve and saved is None:
        raise FtrunError("--json needs --auto-approve (or a saved plan): there is no one to ask")
    if saved is not None and (selectors or excludes):
        raise FtrunError("a saved plan applies the selection it was made with: drop --select/--exclude")
    mode = Mode(saved.get("mode", Mode.APPLY.value)) if saved else Mode.APPLY
    delete_models = bool(saved.get("delete_models")) if saved else False
    if saved is not None:
        retrain = tuple(saved.get("retrain") or ())
        selection = Selection.from_dict(saved["selection"]) if saved.get("selection") else None
    else:
        selection = _select(c, selectors, excludes, c.store.load_or_new(c.target.name))
    loaded = _load(c, selection.names if selection else ()) if mode is Mode.APPLY else None
    provider = c.provider()
    with c.lock(str(mode)):
        state = c.store.load_or_new(c.target.name)
        p = _plan(c, loaded, state, provider, retrain, mode=mode, delete_models=delete_models, selection=selection)
        if saved is not None:
            reasons = stale_reasons(saved, p)
            if reasons:
                raise StateError(
                    f"the saved plan {plan_file} is stale: {'; '.join(reasons)}", hint="run `ftrun plan` again"
                )
        if as_json:
            c.out.out(json.dumps({"type": "plan", "plan": p.to_dict()}, ensure_ascii=False), highlight=False)
        else:
            _print_plan(c, p)
        if p.has_errors:
            sys.exit(ExitCode.ERROR)
        if p.has_changes and not auto_approve and saved is None:
            _confirm(c, "Do you want to perform these actions?")
        applier = _applier(c, provider, loaded, state, as_json=as_json)
        if p.has_changes or p.refresh or p.drift:
            applier.apply(p)
            _print_completion(c, "Destroy" if mode is Mode.DESTROY else "Apply", applier, as_json=as_json)
    if wait and mode is Mode.APPLY:
        _wait(c, applier, timeout, selection)
    elif mode is Mode.APPLY:
        applier.report_deferred()


def _applier(c: Context, provider: Provider, loaded: pipeline.Loaded | None, state: State, *, as_json: bool) -> Applier:
    from runner.apply import Applier
    from runner.views.progress import ConsoleObserver

    return Applier(
        c.store,
        provider,
        c.ws.name,
        {d.experiment.name: d for d in loaded.desired} if loaded else {},
        ConsoleObserver(c.out, as_json=as_json),
        state,
        max_active_jobs=c.target.max_active_jobs,
        poll_interval=c.target.poll_interval,
        eval_concurrency=c.target.eval_concurrency,
        judges=_judges(c, loaded),
        free=c.target.free,
        profile=c.target.profile,
    )


def _judges(c: Context, loaded: pipeline.Loaded | None) -> dict[str, Chat]:
    """Providers for the other targets that eval suites' judge assertions name (connected when first asked)."""
    from functools import partial

    from runner.evals.judges import LazyProvider

    names = {t for d in (loaded.desired if loaded else ()) for s in d.suites for t in s.judges}
    return {name: LazyProvider(partial(c.provider_for, c.ws.target(name))) for name in sorted(names - {c.target.name})}


def _print_completion(c: Context, title: str, applier: Applier, *, as_json: bool) -> None:
    from runner.events import tally
    from runner.views.events import APPLY_ALWAYS, DESTROY_ALWAYS, completion_line

    if as_json:
        doc = {"type": f"{title.lower()}_complete", "counts": tally(applier.events)}
        c.out.out(json.dumps(doc), highlight=False)
    else:
        always = DESTROY_ALWAYS if title == "Destroy" else APPLY_ALWAYS
        c.out.print("\n" + completion_line(title, applier.events, always))


def _wait(c: Context, applier: Applier, timeout: float | None, selection: Selection | None = None) -> None:
    """Track every current job (of the selection) until it settles; Ctrl-C stops watching, never the jobs."""
    from runner.views import reports
    from runner.views.events import completion_line
    from runner.views.progress import ConsoleObserver

    names = sorted(n for n in applier.state.experiments if selection is None or n in selection)
    assert isinstance(applier.observer, ConsoleObserver)
    try:
        with applier.observer.live():
            applier.wait(names, c.target.poll_interval, timeout)
    except KeyboardInterrupt:
        raise Interrupted(
            "stopped waiting: the jobs keep running on the target",
            hint="see them with `ftrun status`, or follow them again with `ftrun apply --wait`",
        ) from None
    runs = [(n, r) for n in names if (r := applier.state.experiments[n].current_run) is not None]
    lines, failed = reports.finished_lines(runs)
    for line in lines:
        c.out.print(line)
    if applier.deferred:  # evals (and promotions) of the jobs that just succeeded
        from runner.events import tally

        before = len(applier.events)
        with c.lock("evaluate"):
            applier.run_deferred()
        if applier.observer.as_json:
            doc = {"type": "evaluation_complete", "counts": tally(applier.events[before:])}
            c.out.out(json.dumps(doc), highlight=False)
        else:
            c.out.print("\n" + completion_line("Evaluation", applier.events[before:], ("evaluated", "promoted")))
    if failed:
        raise FtrunError(
            f"{len(failed)} job(s) did not succeed: {', '.join(failed)}",
            hint="see `ftrun show NAME` for the job's error",
        )


def _read_saved_plan(path: Path) -> dict[str, Any]:
    from runner.plan import Mode

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FtrunError(f"{path} is not a saved plan: {e}") from None
    if not isinstance(doc, dict) or "changes" not in doc or "lineage" not in doc:
        raise FtrunError(f"{path} is not a saved plan (make one with `ftrun plan --out FILE`)")
    if doc.get("mode", Mode.APPLY.value) not in {m.value for m in Mode}:
        raise FtrunError(f"{path} has an unknown plan mode {doc.get('mode')!r}")
    return doc


def _live_state(c: Context, state: State, offline: bool) -> State:
    """State with the current runs' statuses read from the target (nothing is written)."""
    if offline or not state.experiments:
        return state
    provider = c.provider()
    for name, es in state.experiments.items():
        run = es.current_run
        if run and not JobStatus.of(run.status).is_terminal and run.status != JobStatus.GONE:
            job = provider.get_job(run.job_id)
            if job:
                state = state.with_run(name, run.observed(job, int(time.time())))
    return state


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--markdown", is_flag=True, help="Print a pull-request comment: jobs, models, losses, loss charts, cost.")
@click.option("--offline", is_flag=True, help="Show what state records, without asking the target.")
@select_options
@pass_ctx
@_handle_errors
def status(
    c: Context, as_json: bool, markdown: bool, offline: bool, selectors: tuple[str, ...], excludes: tuple[str, ...]
) -> None:
    """The current run of every experiment in state (or of those selected); with evals, its pass rate per suite and
    the run each alias points at."""
    state = c.store.load_or_new(c.target.name)
    selection = _select(c, selectors, excludes, state)
    if selection is not None:
        state = replace(state, experiments={n: es for n, es in state.experiments.items() if n in selection})
    state = _live_state(c, state, offline)
    from runner.evals.standing import standing
    from runner.views import reports

    standings = {name: standing(es) for name, es in sorted(state.experiments.items())}
    rows = [reports.run_row(name, es.current_run, standings[name]) for name, es in sorted(state.experiments.items())]
    if markdown:
        from runner.datasets.pricing import actual_cost
        from runner.run_details import gather

        provider = None if offline else c.provider()
        current = {}
        for name, es in sorted(state.experiments.items()):
            details = [d for d in gather(es, provider) if d.current]
            if details:
                current[name] = details[0]

        def cost(run: Any) -> float | None:
            model = str(run.inputs.get("model"))
            return actual_cost(model, run.trained_tokens, prices=c.ws.prices, free=c.target.free)

        c.out.out(reports.status_markdown(c.ws.name, c.target.name, current, cost, standings), highlight=False)
    elif as_json:
        c.out.print_json(json.dumps({"target": c.target.name, "serial": state.serial, "experiments": rows}))
    elif not rows:
        c.out.print(f"No experiments in state for target '{escape(c.target.name)}' yet. Run `ftrun apply`.")
    else:
        c.out.print(reports.status_table(rows))


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...", shell_complete=experiment_names)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report to FILE (default: report.html, unless only --png is asked for).",
)
@click.option(
    "--png",
    "png_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the loss charts as PNG images into DIR (for places that cannot show HTML).",
)
@click.option("--offline", is_flag=True, help="Only what state records (no loss curves), without asking the target.")
@select_options
@pass_ctx
@_handle_errors
def report(
    c: Context,
    names: tuple[str, ...],
    out: Path | None,
    png_dir: Path | None,
    offline: bool,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """One self-contained HTML page: loss curves of every run, the latest runs side by side, data, cost, evals."""
    from runner.datasets.pricing import actual_cost
    from runner.report import gather_report
    from runner.views.evals import report_tables
    from runner.views.loss_charts import write_png
    from runner.views.report_html import report_charts, report_html

    selection = _select(c, selectors, excludes, c.store.load_or_new(c.target.name))
    if selection is not None:
        names = tuple(dict.fromkeys([*names, *selection.names]))
    state = _live_state(c, c.store.load_or_new(c.target.name), offline)
    loaded = pipeline.load(c.ws, c.target)  # the data the specs name now; a spec that does not load is left out
    known = set(state.experiments) | {e.name for e in loaded.experiments}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FtrunError(
            f"no experiment named {', '.join(unknown)} in the specs or the state of target '{c.target.name}'",
            hint=f"known: {', '.join(sorted(known)) or 'none'}",
        )
    c.warn([d for d in loaded.diagnostics if d.severity is Severity.ERROR])

    def cost(run: Any) -> float | None:
        return actual_cost(str(run.inputs.get("model")), run.trained_tokens, prices=c.ws.prices, free=c.target.free)

    provider = None if offline else c.provider()
    doc = gather_report(
        c.ws.name,
        c.target.name,
        state,
        loaded.desired,
        provider,
        cost,
        names=names,
        now=int(time.time()),
        evals=report_tables(state),
    )
    if out is None and png_dir is None:
        out = Path("report.html")
    if out is not None:
        out.write_text(report_html(doc), encoding="utf-8")
        c.out.print(f"wrote {escape(str(out))} ({len(doc.experiments)} experiment(s))")
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        for stem, chart in report_charts(doc):
            c.out.print(f"wrote {escape(str(write_png(chart, png_dir / f'{stem}.png')))}")


def _experiment_state(c: Context, name: str, state: State) -> ExperimentState:
    es = state.experiments.get(name)
    if es is None:
        known = ", ".join(sorted(state.experiments)) or "none"
        raise FtrunError(f"no experiment '{name}' in the state of target '{c.target.name}' (known: {known})")
    return es


@cli.command()
@click.argument("name", required=False, shell_complete=experiment_names)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--offline", is_flag=True, help="Show what state records, without asking the target.")
@select_options
@pass_ctx
@_handle_errors
def show(
    c: Context, name: str | None, as_json: bool, offline: bool, selectors: tuple[str, ...], excludes: tuple[str, ...]
) -> None:
    """Every run of one experiment NAME (or of those selected), newest last: losses, checkpoints, changes, cost, eval
    results beside the base model's, and the aliases each run holds."""
    from runner.datasets.pricing import actual_cost
    from runner.run_details import gather
    from runner.views import reports

    state = c.store.load_or_new(c.target.name)
    if name is not None and (selectors or excludes):
        raise FtrunError("give NAME or --select, not both")
    if name is None:
        selection = _select(c, selectors, excludes, state)
        if selection is None:
            raise FtrunError("show needs an experiment: NAME, or --select SELECTOR")
        names = [n for n in selection.names if n in state.experiments]
        if not names:
            raise FtrunError(f"none of the selected experiments is in the state of target '{c.target.name}'")
    else:
        names = [name]
    provider = None if offline else c.provider()
    docs = []
    for n in names:
        es = _experiment_state(c, n, state)
        details = gather(es, provider)
        if as_json:
            docs.append(reports.show_document(n, es, details))
            continue

        def cost(run: Any) -> float | None:
            model = str(run.inputs.get("model"))
            return actual_cost(model, run.trained_tokens, prices=c.ws.prices, free=c.target.free)

        if n != names[0]:
            c.out.print("")
        for line in reports.show_lines(n, c.target.name, es, details, cost):
            c.out.print(line)
    if as_json:
        doc = docs[0] if name is not None else {"experiments": docs}
        c.out.print_json(json.dumps(doc, ensure_ascii=False))


@cli.command()
@click.argument("name", shell_complete=experiment_names)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@_handle_errors
def output(c: Context, name: str, as_json: bool) -> None:
    """Print the fine-tuned model id of NAME's current run, or of the run NAME@ALIAS points at (for scripts)."""
    name, _, alias = name.partition("@")
    state = c.store.load_or_new(c.target.name)
    swept = sweep_alias(state, name, alias) if alias and name not in state.experiments else None
    if swept is not None:  # SWEEP@alias (`promote: {pick: best}`): the variant that holds it
        name = swept[0]
    es = _experiment_state(c, name, state)
    run = es.current_run
    if alias:
        held = es.aliases.get(alias)
        if held is None:
            known = ", ".join(f"{name}@{a}" for a in sorted(es.aliases)) or "none"
            raise FtrunError(f"{name}@{alias} points at no run yet (aliases of {name}: {known})")
        run = es.run(held.job_id)
    model = run.fine_tuned_model if run else None
    if as_json:
        c.out.print_json(
            json.dumps({"experiment": name, "fine_tuned_model": model, "status": run.status if run else None})
        )
    elif model:
        click.echo(model)
    if not model:
        raise FtrunError(f"{name} has no fine-tuned model yet (status: {run.status if run else 'no run'})")


@cli.command()
@click.argument("model", shell_complete=experiment_names)
@click.argument("message")
@click.option(
    "--system",
    default=None,
    help="A system message to send first (default for an experiment: the one its training data uses most; "
    "--system '' sends none).",
)
@click.option("--max-tokens", type=int, default=256, show_default=True)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@pass_ctx
@_handle_errors
def chat(c: Context, model: str, message: str, system: str | None, max_tokens: int, temperature: float) -> None:
    """Ask MODEL (an experiment's name, or a model id) one MESSAGE and print the answer."""
    state = c.store.load_or_new(c.target.name)
    es = state.experiments.get(model)
    if es is not None:
        run = es.current_run
        if not run or not run.fine_tuned_model:
            raise FtrunError(
                f"{model} has no fine-tuned model yet (status: {run.status if run else 'no run'})",
                hint="run `ftrun apply --wait` first",
            )
        if c.target.profile.chat_needs_deployment:
            raise FtrunError(
                f"{model}'s model {run.fine_tuned_model} must be deployed on target '{c.target.name}' "
                f"({c.target.profile.name}) before it can answer",
                hint="deploy it there, then `ftrun chat DEPLOYMENT MESSAGE` with the deployment's name",
            )
        if system is None:
            loaded = pipeline.load(c.ws, c.target, only=[model])
            system = pipeline.system_prompt(loaded.desired[0].training.path) if loaded.desired else None
        model = run.fine_tuned_model
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
    provider = c.provider()
    if c.err.is_terminal:  # the first answer of a model loads it, which takes a while
        with c.err.status(f"loading {escape(model)} and answering…"):
            answer = provider.chat(model, messages, max_tokens=max_tokens, temperature=temperature)
    else:
        answer = provider.chat(model, messages, max_tokens=max_tokens, temperature=temperature)
    click.echo(printable(answer))


def _job_command(c: Context, name: str, operation: str) -> None:
    """cancel / resume NAME: act on the experiment's current job, under the lock, and record it in state."""
    provider = c.provider()
    with c.lock(operation):
        state = c.store.load_or_new(c.target.name)
        _experiment_state(c, name, state)
        applier = _applier(c, provider, None, state, as_json=False)
        if operation == "cancel":
            applier.cancel_current(name)
        else:
            applier.resume_current(name)


@cli.command()
@click.argument("name", shell_complete=experiment_names)
@pass_ctx
@_handle_errors
def cancel(c: Context, name: str) -> None:
    """Cancel the current job of experiment NAME (state keeps the run; its models are kept)."""
    _job_command(c, name, "cancel")


@cli.command()
@click.argument("name", shell_complete=experiment_names)
@pass_ctx
@_handle_errors
def resume(c: Context, name: str) -> None:
    """Resume the paused job of experiment NAME from its last checkpoint."""
    _job_command(c, name, "resume")


@cli.command("eval")
@click.argument("names", nargs=-1, metavar="[NAME]...", shell_complete=experiment_names)
@click.option("--json", "as_json", is_flag=True, help="Print the eval table as JSON.")
@click.option("--markdown", is_flag=True, help="Print the eval table as Markdown (for a pull-request comment).")
@select_options
@pass_ctx
@_handle_errors
def eval_command(
    c: Context,
    names: tuple[str, ...],
    as_json: bool,
    markdown: bool,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Evaluate experiments' models on their eval suites (those not yet run), then print the eval table.

    Results are kept in state: a suite that did not change is not run again for the same model."""
    from runner.plan import Action
    from runner.views.evals import evals_document, evals_lines, evals_markdown, ranking_lines, ranking_markdown
    from runner.views.progress import ConsoleObserver

    loaded = _load(c)
    selection = _select(c, selectors, excludes, c.store.load_or_new(c.target.name))
    if selection is not None:
        specs = {e.name for e in loaded.experiments}
        names = tuple(dict.fromkeys([*names, *(n for n in selection.names if n in specs)]))
        if not names:
            raise FtrunError("none of the selected experiments has a spec to evaluate")
    unknown = sorted(set(names) - {e.name for e in loaded.experiments})
    if unknown:
        raise FtrunError(f"no experiment named {', '.join(unknown)}")
    provider = c.provider()
    quiet = as_json or markdown
    with c.lock("evaluate"):
        state = c.store.load_or_new(c.target.name)
        p = _plan(c, loaded, state, provider)
        if p.has_errors:
            raise SpecError([d for d in p.diagnostics if d.severity is Severity.ERROR])
        applier = _applier(c, provider, loaded, state, as_json=False)
        applier.observer = ConsoleObserver(c.err if quiet else c.out)
        applier.evaluate_now(p, names)
        p = _plan(c, loaded, applier.state, provider)
    wanted = [x for x in p.evals if not names or x.experiment in names]
    promotions = [x for x in p.changes if x.action is Action.PROMOTE and (not names or x.experiment in names)]
    rankings = [r for r in p.sweeps if not names or any(v.experiment in names for v in r.variants)]
    if as_json:
        c.out.print_json(json.dumps(evals_document(wanted, promotions, rankings), ensure_ascii=False))
    elif markdown:
        text = "\n".join(t for t in (evals_markdown(wanted, promotions), ranking_markdown(rankings)) if t)
        c.out.out(text or "No eval suites.\n", highlight=False, end="")
    elif not wanted:
        c.out.print("No experiment lists eval suites (`evals:` in its spec).")
    else:
        for line in [*evals_lines(wanted, promotions), *ranking_lines(rankings)]:
            c.out.print(line)


@cli.command()
@click.argument("name", shell_complete=experiment_names)
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen, until the job settles.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON lines.")
@pass_ctx
@_handle_errors
def logs(c: Context, name: str, follow: bool, as_json: bool) -> None:
    """The events of experiment NAME's current job, oldest first (training steps, checkpoints, errors)."""
    from runner.views.events import event_log_line

    es = _experiment_state(c, name, c.store.load_or_new(c.target.name))
    run = es.current_run
    if run is None:
        raise FtrunError(f"{name} has no current run")
    provider = c.provider()
    last: str | None = None
    try:
        while True:
            for event in provider.events(run.job_id, after=last):
                last = event.id
                if as_json:
                    c.out.out(json.dumps({"job_id": run.job_id, **asdict(event)}, ensure_ascii=False), highlight=False)
                else:
                    c.out.print(event_log_line(event))
            job = provider.get_job(run.job_id) if follow else None
            if job is None or JobStatus.of(job.status).is_settled:
                return
            time.sleep(c.target.poll_interval)
    except KeyboardInterrupt:
        raise Interrupted("stopped following: the job keeps running") from None


@cli.command()
@click.option("--auto-approve", is_flag=True, help="Do it without asking for confirmation.")
@click.option("--delete-models", is_flag=True, help="Also delete the fine-tuned models (they are kept otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print what happens as JSON lines (needs --auto-approve).")
@select_options
@pass_ctx
@_handle_errors
def destroy(
    c: Context,
    auto_approve: bool,
    delete_models: bool,
    as_json: bool,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Cancel every active job and forget every experiment of the target (or those selected); models are kept
    unless asked.

    `ftrun plan --destroy [--delete-models]` shows the same plan (as text, Markdown or JSON) without acting.
    """
    from runner.plan import Mode

    if as_json and not auto_approve:
        raise FtrunError("--json needs --auto-approve: there is no one to ask")
    provider = c.provider()
    selection = _select(c, selectors, excludes, c.store.load_or_new(c.target.name))
    with c.lock("destroy"):
        state = c.store.load_or_new(c.target.name)
        p = _plan(c, None, state, provider, mode=Mode.DESTROY, delete_models=delete_models, selection=selection)
        if as_json:
            c.out.out(json.dumps({"type": "plan", "plan": p.to_dict()}, ensure_ascii=False), highlight=False)
        else:
            _print_plan(c, p)
        if not p.has_changes and not p.refresh and not p.drift:
            return
        if p.has_changes and not auto_approve:
            _confirm(c, "Do you really want to destroy these?")
        applier = _applier(c, provider, None, state, as_json=as_json)
        applier.apply(p)
        _print_completion(c, "Destroy", applier, as_json=as_json)


@cli.group("state")
def state_group() -> None:
    """Read and edit the state by hand (list, show, rm, mv), without touching the target."""


@state_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@select_options
@pass_ctx
@_handle_errors
def state_list(c: Context, as_json: bool, selectors: tuple[str, ...], excludes: tuple[str, ...]) -> None:
    """Every experiment the state records (or those selected): current job, status, model, runs."""
    from runner import state_commands

    state = c.store.load_or_new(c.target.name)
    rows = state_commands.list_rows(state, _select(c, selectors, excludes, state))
    if as_json:
        c.out.print_json(json.dumps({"target": c.target.name, "serial": state.serial, "experiments": rows}))
        return
    if not rows:
        c.out.print(f"No experiments in the state of target '{escape(c.target.name)}'.")
    for row in rows:
        model = f" {row['fine_tuned_model']}" if row["fine_tuned_model"] else ""
        c.out.print(
            f"{escape(row['experiment'])}  {escape(str(row['current']))} {escape(str(row['status']))}"
            f"{escape(model)}  ({row['runs']} run{'s' if row['runs'] != 1 else ''})"
        )


@state_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@_handle_errors
def state_show(c: Context, name: str, as_json: bool) -> None:
    """Everything the state records for experiment NAME."""
    from runner import state_commands

    doc = state_commands.show_document(c.store.load_or_new(c.target.name), name)
    if as_json:
        c.out.print_json(json.dumps(doc, ensure_ascii=False))
        return
    c.out.print(f"[bold]{escape(name)}[/bold] (current: {escape(str(doc['current']))})")
    for key, value in sorted(doc["metadata"].items()):
        c.out.print(f"  {escape(key)}: {escape(json.dumps(value, ensure_ascii=False))}")
    for run in doc["runs"]:
        mark = "*" if run["job_id"] == doc["current"] else " "
        model = run["fine_tuned_model"] or "-"
        c.out.print(f"  {mark} {escape(run['job_id'])}  {escape(run['status'])}  {escape(model)}")


def _edit_state(c: Context, operation: str, edit: Callable[[State], State], done: str) -> None:
    with c.lock(operation):
        store = c.store
        state = store.load()
        if state is None:
            raise FtrunError(f"target '{c.target.name}' has no state yet: there is nothing to change")
        store.save(edit(state))
    c.out.print(f"{escape(done)} The previous state is in {escape(c.ws.relative(store.backup_path))}.")


@state_group.command("rm")
@click.argument("name")
@pass_ctx
@_handle_errors
def state_rm(c: Context, name: str) -> None:
    """Forget experiment NAME: its jobs and models stay on the target, untouched."""
    from runner import state_commands

    _edit_state(
        c,
        "state rm",
        lambda s: state_commands.remove(s, name),
        f"Removed {name} from the state of target '{c.target.name}'; its jobs and models are untouched.",
    )


@state_group.command("mv")
@click.argument("old")
@click.argument("new")
@pass_ctx
@_handle_errors
def state_mv(c: Context, old: str, new: str) -> None:
    """Rename experiment OLD to NEW in state (its runs and models carry over; nothing retrains)."""
    from runner import state_commands

    _edit_state(c, "state mv", lambda s: state_commands.move(s, old, new), f"Moved {old} to {new}.")


@cli.command("import")
@click.argument("name")
@click.argument("job_id")
@pass_ctx
@_handle_errors
def import_command(c: Context, name: str, job_id: str) -> None:
    """Adopt job JOB_ID, created outside ftrun, as the current run of experiment NAME (whose spec must exist)."""
    from runner import importing
    from runner.fingerprint import diff

    loaded = _load(c, [name])
    if not loaded.desired:
        raise FtrunError(f"no experiment named '{name}' in experiments/ (import needs its spec)")
    d = loaded.desired[0]
    provider = c.provider()
    job = provider.get_job(job_id)
    if job is None:
        raise FtrunError(f"target '{c.target.name}' has no job {job_id}")
    with c.lock("import"):
        state = c.store.load_or_new(c.target.name)
        files = {f: provider.get_file(f) for f in (job.training_file, job.validation_file) if f}
        shas = {
            f: importing.file_sha256(f, state, remote.filename if remote else None, provider.file_sha256)
            for f, remote in files.items()
        }
        new = importing.import_job(state, d, job, shas, {f: r for f, r in files.items() if r is not None})
        run = new.experiments[name].current_run
        assert run is not None
        c.store.save(new)
    c.out.print(f"Imported job {escape(job.id)} ({escape(job.status)}) as the current run of {escape(name)}.")
    fields = diff(run.inputs, d.inputs)
    if not fields:
        c.out.print("It trained what the spec asks for: `ftrun plan` shows no change for it.")
    else:
        c.out.print("It differs from the spec, so `ftrun plan` will retrain it:")
        for f in fields:
            c.out.print(f"  ~ {escape(f.path)}: {escape(str(f.old))} -> {escape(str(f.new))}")


@cli.command("force-unlock")
@click.argument("lock_id")
@pass_ctx
@_handle_errors
def force_unlock(c: Context, lock_id: str) -> None:
    """Remove a lock left by an ftrun that died (the lock id is in the error that named it)."""
    from runner import lock

    held = lock.force_unlock(c.ws.lock_path(c.target), lock_id)
    c.out.print(f"Unlocked: the lock of pid {held.pid} on {escape(held.host)} ('{escape(held.operation)}') is gone.")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; any other needs an API key.")
@click.option("--port", type=int, default=9527, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the server keeps files, jobs and models (default: .ftrun/server of the workspace).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    envvar="FTRUN_SERVER_API_KEY",
    help="Require this bearer key (repeatable). Prefer the FTRUN_SERVER_API_KEY variable (comma-separated keys): "
    "a key on the command line shows in the process list.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Jobs that train at once.")
@click.option(
    "--train-processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="FTRUN_TRAIN_PROCESSES",
    help="Processes each supervised job trains on (torch.distributed.run with DDP: one per GPU, or gloo on the "
    "CPU); never more than the job's batch size.",
)
@pass_ctx
@_handle_errors
def serve(
    c: Context,
    host: str,
    port: int,
    data_dir: Path | None,
    api_keys: tuple[str, ...],
    workers: int,
    train_processes: int,
) -> None:
    """Run the built-in OpenAI-compatible fine-tuning server."""
    from runner.server.serve import serve as run_server
    from runner.server.training.distributed import PROCESSES_ENV

    os.environ[PROCESSES_ENV] = str(train_processes)  # read by the job worker this server starts

    if data_dir is None:
        try:
            data_dir = c.ws.server_dir(c.ws.target("local"))
        except FtrunError:
            data_dir = c.directory / ".ftrun" / "server"
    keys = tuple(k.strip() for key in api_keys for k in key.split(",") if k.strip())
    c.err.print(f"ftrun serve: http://{host}:{port}/v1 (data in {escape(str(data_dir))})")
    run_server(host=host, port=port, data_dir=data_dir, api_keys=keys, max_workers=workers)


@cli.command()
@click.argument("kind", type=click.Choice(["experiment", "workspace", "suite"]), default="experiment")
@click.option(
    "--write",
    "write_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Write the schemas as files into DIR for editors (experiment, workspace and suite.schema.json; "
    "fields that ftrun.yaml's defaults may supply are not required there).",
)
@pass_ctx
@_handle_errors
def schema(c: Context, kind: str, write_dir: Path | None) -> None:
    """Print the JSON Schema of experiment specs (or of ftrun.yaml, or of eval suites), for editors."""
    from runner.schemacheck import load_schema, write_schemas

    if write_dir is not None:
        for path in write_schemas(write_dir):
            c.out.print(f"wrote {escape(str(path))}")
        return
    click.echo(json.dumps(load_schema(kind), indent=2, ensure_ascii=False))


@cli.command()
@click.argument("name", shell_complete=experiment_names)
@click.option("--validation", is_flag=True, help="Render the validation file instead of the training file.")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@pass_ctx
@_handle_errors
def render(c: Context, name: str, validation: bool, out: Path | None) -> None:
    """Write out the exact bytes an experiment would upload (rendered from its template, if any)."""
    loaded = pipeline.load(c.ws, c.target, only=[name])
    if not loaded.experiments:
        raise FtrunError(f"no experiment named '{name}'")
    errors = [d for d in loaded.diagnostics if d.severity is Severity.ERROR]
    c.warn(loaded.diagnostics)
    if not loaded.desired:
        raise SpecError(errors or "no data")
    d = loaded.desired[0]
    ds = d.validation if validation else d.training
    if ds is None:
        raise FtrunError(f"{name} has no validation file")
    data = ds.path.read_bytes()
    if out:
        out.write_bytes(data)
        c.err.print(f"wrote {escape(str(out))} ({len(data):,} bytes, {ds.examples} examples, sha256 {ds.sha256})")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if errors:  # the bytes are out for a look, but they would not pass plan or apply
        sys.exit(ExitCode.ERROR)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@pass_ctx
@_handle_errors
def init(c: Context, directory: Path) -> None:
    """Create a workspace: ftrun.yaml, experiments/, data/, templates/, state/, and the schemas for editors."""
    from runner.scaffold import create_workspace

    root = (c.directory / directory).resolve()
    created = create_workspace(root)
    for path in created:
        c.out.print(f"  [green]+[/green] {escape(str(path))}")
    c.out.print(f"[bold green]Workspace ready[/bold green] in {escape(str(root))}. Next: `ftrun plan`.")


@cli.command()
@click.argument("name")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--merge", is_flag=True, help="Fold a LoRA adapter into its base model's weights (full weights out).")
@pass_ctx
@_handle_errors
def export(c: Context, name: str, directory: Path, merge: bool) -> None:
    """Write NAME's model (an experiment's name, or a model id) to DIRECTORY in Hugging Face format, with its
    tokenizer and chat template: a LoRA adapter as it is, or with --merge as full weights. Built-in server only."""
    target = c.target
    if target.kind != "local":
        raise FtrunError(
            f"target {target.name} is a {target.kind} server: only the built-in server's models can be exported",
            hint="models trained elsewhere stay with their host; train on the local target to export one",
        )
    model = name
    es = c.store.load_or_new(target.name).experiments.get(name)
    if es is not None:
        run = es.current_run
        if not run or not run.fine_tuned_model:
            raise FtrunError(f"{name} has no fine-tuned model yet (status: {run.status if run else 'no run'})")
        model = run.fine_tuned_model
    from runner.server.export import export_model

    out = (c.directory / directory).resolve()
    if c.err.is_terminal and merge:
        with c.err.status(f"merging {escape(model)}…"):
            exported = export_model(c.ws.server_dir(target), model, out, merge=merge)
    else:
        exported = export_model(c.ws.server_dir(target), model, out, merge=merge)
    c.out.print(f"exported {escape(exported.model)} ({exported.kind}) to {escape(str(exported.directory))}")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="ftrun")


if __name__ == "__main__":  # pragma: no cover
    main()
