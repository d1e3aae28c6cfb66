"""The command line: parses arguments, wires the pieces, and is the only place that prints or exits."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from runner import __version__, lock, pipeline
from runner.apply import Applier
from runner.diagnostics import ExitCode, FtrunError, Severity, SpecError, StateError, has_errors
from runner.plan import Action, Plan, make_plan, stale_reasons
from runner.remote import Progress as JobProgress
from runner.remote import Provider, RemoteJob
from runner.render import (
    dataset_report,
    diagnostics_text,
    estimate_text,
    money,
    plan_json,
    plan_markdown,
    plan_text,
    table,
)
from runner.state import TERMINAL_STATUSES, State, StateStore
from runner.workspace import Target, Workspace, find_root, load_workspace

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, directory: str | None, target: str | None, color: bool | None) -> None:
        self.directory = Path(directory) if directory else Path.cwd()
        self.target_name = target
        # Colour on a terminal, plain when piped or NO_COLOR is set; --color forces it, --no-color drops it.
        no_color = color is False or (color is None and bool(os.environ.get("NO_COLOR")))
        force = True if color else None
        self.out = Console(highlight=False, no_color=no_color, force_terminal=force, soft_wrap=True)
        self.err = Console(highlight=False, no_color=no_color, force_terminal=force, stderr=True, soft_wrap=True)
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
        from runner.provider import connect

        return connect(self.ws, self.target)

    def warn(self, diags: Sequence[Any]) -> None:
        for line in diagnostics_text(diags):
            self.err.print(line)


def _handle_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        err = ctx.err if ctx else Console(stderr=True, highlight=False)
        try:
            return fn(*args, **kwargs)
        except FtrunError as e:
            for line in diagnostics_text(e.diagnostics, per_check_limit=10):
                err.print(line)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def _plan(c: Context, loaded: pipeline.Loaded, state: State, provider: Provider, retrain: Sequence[str]) -> Plan:
    names = {e.name for e in loaded.experiments}
    unknown = [n for n in retrain if n not in names]
    if unknown:
        raise SpecError(f"--retrain names no experiment: {', '.join(unknown)}")
    snap = pipeline.snapshot(provider, state, c.ws)
    return make_plan(
        loaded.desired,
        state,
        snap,
        target=c.target.name,
        endpoint=c.target.endpoint,
        workspace=c.ws.name,
        retrain=frozenset(retrain),
        budget_max_usd=c.ws.budget_max_usd,
        diagnostics=[d for d in loaded.diagnostics if d.severity is not Severity.ERROR],
    )


# -- commands ------------------------------------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_ctx
@_handle_errors
def validate(c: Context, as_json: bool) -> None:
    """Check the specs and the data they train on, without contacting the target."""
    loaded = pipeline.load(c.ws, c.target)
    if as_json:
        c.out.print_json(
            json.dumps(
                {
                    "valid": not has_errors(loaded.diagnostics),
                    "experiments": [
                        {
                            "name": d.experiment.name,
                            "training_hash": d.training_hash,
                            "training_file": {
                                "display": d.training.display,
                                "sha256": d.training.sha256,
                                "examples": d.training.examples,
                                "stats": asdict(d.training.stats) if d.training.stats else None,
                                "checks": dict(d.training.check_counts),
                            },
                            "estimate": asdict(d.estimate) if d.estimate else None,
                        }
                        for d in loaded.desired
                    ],
                    "diagnostics": [d.to_dict() for d in loaded.diagnostics],
                },
                ensure_ascii=False,
            )
        )
    else:
        c.warn(loaded.diagnostics)
        if not has_errors(loaded.diagnostics):
            reported: set[str] = set()
            for d in loaded.desired:
                for ds in (d.training, d.validation):
                    if ds is not None and ds.sha256 not in reported:
                        reported.add(ds.sha256)
                        for line in dataset_report(ds):
                            c.out.print(line)
            for d in loaded.desired:
                stats = d.training.stats
                tokens = f", {stats.total_tokens:,} tokens" if stats else ""
                c.out.print(
                    f"[green]✓[/green] {escape(d.experiment.name)}: {escape(d.training.display)} "
                    f"({d.training.examples} examples{tokens}); estimate {escape(estimate_text(d.estimate))}"
                )
            c.out.print(f"[bold green]Valid:[/bold green] {len(loaded.desired)} experiment(s).")
    if has_errors(loaded.diagnostics):
        sys.exit(ExitCode.ERROR)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plan document as JSON.")
@click.option("--markdown", is_flag=True, help="Print the plan as Markdown (for a pull-request comment).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 1 on error, 2 when changes.")
@click.option("--retrain", multiple=True, metavar="NAME", help="Plan a retrain of NAME even if nothing changed.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the plan to FILE; `ftrun apply FILE` then applies exactly it (or refuses if stale).",
)
@pass_ctx
@_handle_errors
def plan(
    c: Context, as_json: bool, markdown: bool, detailed_exitcode: bool, retrain: tuple[str, ...], out: Path | None
) -> None:
    """Show what apply would do: what would train, why, from which data and at what cost."""
    loaded = _load(c)
    state = c.store.load_or_new(c.target.name)
    p = _plan(c, loaded, state, c.provider(), retrain)
    if out is not None and not p.has_errors:
        out.write_text(plan_json(p) + "\n", encoding="utf-8")
    if as_json:
        c.out.print_json(plan_json(p))
    elif markdown:
        c.out.print(escape(plan_markdown(p)), markup=True, end="")
    else:
        c.out.print(plan_text(p))
    if p.has_errors:
        sys.exit(ExitCode.ERROR)
    if detailed_exitcode and p.has_changes:
        sys.exit(ExitCode.CHANGES)


def _confirm(c: Context, question: str) -> None:
    if not sys.stdin.isatty():
        raise FtrunError(
            "confirmation needed, but the input is not a terminal",
            hint="run with --auto-approve to apply without asking",
        )
    c.out.print(f"\n[bold]{question}[/bold]\n  Only 'yes' will be accepted.")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise FtrunError("cancelled: nothing was changed")


@cli.command()
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--wait", is_flag=True, help="Track the jobs until they finish, with progress.")
@click.option("--retrain", multiple=True, metavar="NAME", help="Retrain NAME even if nothing changed.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="With --wait: give up after SECONDS.")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_ctx
@_handle_errors
def apply(
    c: Context, auto_approve: bool, wait: bool, retrain: tuple[str, ...], timeout: float | None, plan_file: Path | None
) -> None:
    """Make the target match the experiments: upload data once, create, track or cancel jobs.

    With PLAN_FILE (from `ftrun plan --out`), apply exactly that plan without asking, or refuse if it is stale.
    """
    saved = _read_saved_plan(plan_file) if plan_file else None
    if saved is not None:
        retrain = tuple(saved.get("retrain") or ())
    loaded = _load(c)
    provider = c.provider()
    with lock.hold(c.ws.lock_path(c.target), "apply"):
        state = c.store.load_or_new(c.target.name)
        p = _plan(c, loaded, state, provider, retrain)
        if saved is not None:
            reasons = stale_reasons(saved, p)
            if reasons:
                raise StateError(
                    f"the saved plan {plan_file} is stale: {'; '.join(reasons)}", hint="run `ftrun plan` again"
                )
        c.out.print(plan_text(p))
        if p.has_errors:
            sys.exit(ExitCode.ERROR)
        if p.has_changes and not auto_approve and saved is None:
            _confirm(c, "Do you want to perform these actions?")
        observer = ConsoleObserver(c)
        applier = Applier(
            c.store,
            provider,
            c.ws.name,
            {d.experiment.name: d for d in loaded.desired},
            observer,
            state,
            max_active_jobs=c.target.max_active_jobs,
            poll_interval=c.target.poll_interval,
        )
        if p.has_changes or p.refresh or p.drift:
            applier.apply(p)
            done = p.counts()
            c.out.print(
                f"\n[bold green]Apply complete![/bold green] {done[Action.CREATE]} created, "
                f"{done[Action.RETRAIN]} retrained, {done[Action.ADOPT]} adopted, {done[Action.UPDATE_STATE]} "
                f"updated, {done[Action.CANCEL]} cancelled, {done[Action.FORGET]} forgotten."
            )
        if wait:
            names = sorted(applier.state.experiments)
            with observer.live():
                applier.wait(names, c.target.poll_interval, timeout)
            _report_finished(c, applier.state, names)


def _read_saved_plan(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FtrunError(f"{path} is not a saved plan: {e}") from None
    if not isinstance(doc, dict) or "changes" not in doc or "lineage" not in doc:
        raise FtrunError(f"{path} is not a saved plan (make one with `ftrun plan --out FILE`)")
    return doc


def _report_finished(c: Context, state: State, names: Sequence[str]) -> None:
    failed = []
    for name in names:
        run = state.experiments[name].current_run
        if run is None:
            continue
        if run.status == "succeeded":
            c.out.print(f"[green]✓[/green] {escape(name)}: {escape(run.fine_tuned_model or '')}")
        else:
            why = f": {run.error.get('message')}" if run.error else ""
            c.out.print(f"[red]✗[/red] {escape(name)}: {run.status}{escape(why)}")
            failed.append(name)
    if failed:
        raise FtrunError(
            f"{len(failed)} job(s) did not succeed: {', '.join(failed)}",
            hint="see `ftrun show NAME` for the job's error",
        )


class ConsoleObserver:
    """Apply's progress on the console: a line per step; a live bar per job on a terminal, lines when piped."""

    def __init__(self, c: Context) -> None:
        self.c = c
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, tuple[str, int | None]] = {}
        self._last_print: dict[str, float] = {}
        self._upload: Progress | None = None
        self._upload_task = TaskID(0)

    def step(self, text: str) -> None:
        self.c.out.print(f"  {escape(text)}")

    @contextmanager
    def live(self) -> Iterator[None]:
        if not self.c.out.is_terminal:
            yield
            return
        with Progress(
            TextColumn("[bold]{task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.c.out,
        ) as progress:
            self._progress = progress
            try:
                yield
            finally:
                self._progress = None

    def upload_progress(self, display: str, sent: int, total: int) -> None:
        """A bar while a file of more than a few megabytes goes up (on a terminal only: logs get the step lines)."""
        if not self.c.out.is_terminal or total < 4_000_000:
            return
        if self._upload is None:
            self._upload = Progress(
                TextColumn("  uploading {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=self.c.out,
                transient=True,
            )
            self._upload.start()
            self._upload_task = self._upload.add_task(display, total=total)
        self._upload.update(self._upload_task, completed=sent)
        if sent >= total:
            self._upload.stop()
            self._upload = None

    def job_progress(self, experiment: str, job: RemoteJob, progress: JobProgress | None) -> None:
        step = progress.step if progress else None
        total = progress.total_steps if progress else None
        loss = f" loss {progress.train_loss:.4f}" if progress and progress.train_loss is not None else ""
        detail = f"{job.status}{loss}"
        if self._progress is not None:
            if experiment not in self._tasks:
                self._tasks[experiment] = self._progress.add_task("", total=total, name=experiment, detail=detail)
            task = self._tasks[experiment]
            self._progress.update(task, detail=detail)
            if total:
                self._progress.update(task, total=total)
            if step is not None:
                self._progress.update(task, completed=step)
            if job.status == "succeeded":  # a full bar; its clock stops
                done = self._progress.tasks[task].total or 1
                self._progress.update(task, total=done, completed=done)
            elif job.status in TERMINAL_STATUSES or job.status == "paused":
                self._progress.stop_task(task)
            return
        # Piped: a line when the status changes, and at most every 10 s while the step advances.
        key = (job.status, step)
        now = time.monotonic()
        if self._last.get(experiment) == key:
            return
        if self._last.get(experiment, ("",))[0] == job.status and now - self._last_print.get(experiment, 0) < 10:
            return
        self._last[experiment] = key
        self._last_print[experiment] = now
        at = f" step {step}/{total}" if step is not None and total else ""
        self.c.out.print(f"  {escape(experiment)}: {escape(job.status)}{at}{escape(loss)}")


def _run_row(name: str, run: Any) -> dict[str, Any]:
    return {
        "experiment": name,
        "job_id": run.job_id if run else None,
        "status": run.status if run else None,
        "fine_tuned_model": run.fine_tuned_model if run else None,
        "trained_tokens": run.trained_tokens if run else None,
        "estimated_usd": run.estimated_usd if run else None,
        "error": run.error if run else None,
    }


def _live_state(c: Context, state: State, offline: bool) -> State:
    """State with the current runs' statuses read from the target (nothing is written)."""
    if offline or not state.experiments:
        return state
    provider = c.provider()
    for name, es in state.experiments.items():
        run = es.current_run
        if run and run.status not in TERMINAL_STATUSES and run.status != "gone":
            job = provider.get_job(run.job_id)
            if job:
                state = state.with_run(name, run.observed(job, int(time.time())))
    return state


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--offline", is_flag=True, help="Show what state records, without asking the target.")
@pass_ctx
@_handle_errors
def status(c: Context, as_json: bool, offline: bool) -> None:
    """The current run of every experiment in state."""
    state = _live_state(c, c.store.load_or_new(c.target.name), offline)
    rows = [_run_row(name, es.current_run) for name, es in sorted(state.experiments.items())]
    if as_json:
        c.out.print_json(json.dumps({"target": c.target.name, "serial": state.serial, "experiments": rows}))
        return
    if not rows:
        c.out.print(f"No experiments in state for target '{escape(c.target.name)}' yet. Run `ftrun apply`.")
        return
    c.out.print(
        table(
            ["EXPERIMENT", "STATUS", "JOB", "MODEL", "TOKENS"],
            [
                [
                    r["experiment"],
                    r["status"] or "-",
                    r["job_id"] or "-",
                    r["fine_tuned_model"] or "-",
                    f"{r['trained_tokens']:,}" if r["trained_tokens"] else "-",
                ]
                for r in rows
            ],
        )
    )


def _experiment_state(c: Context, name: str, state: State) -> Any:
    es = state.experiments.get(name)
    if es is None:
        known = ", ".join(sorted(state.experiments)) or "none"
        raise FtrunError(f"no experiment '{name}' in the state of target '{c.target.name}' (known: {known})")
    return es


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@_handle_errors
def show(c: Context, name: str, as_json: bool) -> None:
    """Every run of one experiment (its history), newest last."""
    state = c.store.load_or_new(c.target.name)
    es = _experiment_state(c, name, state)
    if as_json:
        c.out.print_json(
            json.dumps(
                {
                    "experiment": name,
                    "current": es.current,
                    "metadata": dict(es.metadata),
                    "runs": [asdict(r) for r in es.runs],
                },
                ensure_ascii=False,
            )
        )
        return
    c.out.print(f"[bold]{escape(name)}[/bold] on target '{escape(c.target.name)}'")
    if es.metadata.get("description"):
        c.out.print(f"  {escape(es.metadata['description'])}")
    for run in es.runs:
        marker = "[green]*[/green]" if run.job_id == es.current else " "
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.created_at)) if run.created_at else "?"
        c.out.print(
            f"{marker} {escape(run.job_id)}  {escape(run.status)}  created {when}  "
            f"training hash {run.training_hash[:12]}{'  (adopted)' if run.adopted else ''}"
        )
        if run.fine_tuned_model:
            c.out.print(f"    model: {escape(run.fine_tuned_model)}")
        if run.trained_tokens is not None:
            from runner.datasets.pricing import actual_cost

            actual = actual_cost(
                str(run.inputs.get("model")), run.trained_tokens, prices=c.ws.prices, free=c.target.free
            )
            c.out.print(
                f"    trained tokens: {run.trained_tokens:,}; cost {money(actual)} "
                f"(estimated {money(run.estimated_usd)})"
            )
        if run.error:
            c.out.print(
                f"    [red]error[/red]: {escape(str(run.error.get('code')))}: {escape(str(run.error.get('message')))}"
            )


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
@_handle_errors
def output(c: Context, name: str, as_json: bool) -> None:
    """Print the fine-tuned model id of an experiment's current run (for scripts)."""
    es = _experiment_state(c, name, c.store.load_or_new(c.target.name))
    run = es.current_run
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
@click.argument("model")
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
        if system is None:
            loaded = pipeline.load(c.ws, c.target, only=[model])
            system = pipeline.system_prompt(loaded.desired[0].training.path) if loaded.desired else None
        model = run.fine_tuned_model
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
    answer = c.provider().chat(model, messages, max_tokens=max_tokens, temperature=temperature)
    click.echo(answer)


@cli.command()
@click.option("--auto-approve", is_flag=True, help="Do it without asking for confirmation.")
@click.option("--delete-models", is_flag=True, help="Also delete the fine-tuned models (they are kept otherwise).")
@pass_ctx
@_handle_errors
def destroy(c: Context, auto_approve: bool, delete_models: bool) -> None:
    """Cancel every active job and forget every experiment of the target; models are kept unless asked."""
    provider = c.provider()
    with lock.hold(c.ws.lock_path(c.target), "destroy"):
        state = c.store.load_or_new(c.target.name)
        if not state.experiments:
            c.out.print("Nothing to destroy.")
            return
        models = [r.fine_tuned_model for es in state.experiments.values() for r in es.runs if r.fine_tuned_model]
        for name, es in sorted(state.experiments.items()):
            run = es.current_run
            what = f"cancel job {run.job_id} and forget" if run and run.active else "forget"
            c.out.print(f"  [red]-[/red] {escape(name)}: {what}")
        if delete_models:
            for m in models:
                c.out.print(f"  [red]-[/red] delete model {escape(m)}")
        elif models:
            c.out.print(f"  [dim]{len(models)} fine-tuned model(s) are kept (--delete-models deletes them)[/dim]")
        if not auto_approve:
            _confirm(c, "Do you really want to destroy these?")
        Applier(c.store, provider, c.ws.name, {}, ConsoleObserver(c), state).destroy(delete_models=delete_models)
        c.out.print("[bold green]Destroy complete.[/bold green]")


@cli.command("force-unlock")
@click.argument("lock_id")
@pass_ctx
@_handle_errors
def force_unlock(c: Context, lock_id: str) -> None:
    """Remove a lock left by an ftrun that died (the lock id is in the error that named it)."""
    held = lock.force_unlock(c.ws.lock_path(c.target), lock_id)
    c.out.print(f"Unlocked: the lock of pid {held.pid} on {escape(held.host)} ('{escape(held.operation)}') is gone.")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; others need --api-key.")
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
    help="Require this bearer key (repeatable; or FTRUN_SERVER_API_KEY).",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Jobs that train at once.")
@pass_ctx
@_handle_errors
def serve(c: Context, host: str, port: int, data_dir: Path | None, api_keys: tuple[str, ...], workers: int) -> None:
    """Run the built-in OpenAI-compatible fine-tuning server."""
    from runner.server import serve as run_server

    if data_dir is None:
        try:
            data_dir = c.ws.server_dir(c.ws.target("local"))
        except FtrunError:
            data_dir = c.directory / ".ftrun" / "server"
    keys = tuple(k.strip() for key in api_keys for k in key.split(",") if k.strip())
    c.err.print(f"ftrun serve: http://{host}:{port}/v1 (data in {escape(str(data_dir))})")
    run_server(host=host, port=port, data_dir=data_dir, api_keys=keys, max_workers=workers)


@cli.command()
@click.argument("kind", type=click.Choice(["experiment", "workspace"]), default="experiment")
@pass_ctx
@_handle_errors
def schema(c: Context, kind: str) -> None:
    """Print the JSON Schema of experiment specs (or of ftrun.yaml), for editors."""
    from runner.schemacheck import load_schema

    click.echo(json.dumps(load_schema(kind), indent=2, ensure_ascii=False))


@cli.command()
@click.argument("name")
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
    c.warn(loaded.diagnostics)
    if not loaded.desired:
        raise SpecError([d for d in loaded.diagnostics if d.severity is Severity.ERROR] or "no data")
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


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@pass_ctx
@_handle_errors
def init(c: Context, directory: Path) -> None:
    """Create a workspace: ftrun.yaml, experiments/, data/, templates/, state/."""
    from runner.scaffold import create_workspace

    root = (c.directory / directory).resolve()
    created = create_workspace(root)
    for path in created:
        c.out.print(f"  [green]+[/green] {escape(str(path))}")
    c.out.print(f"[bold green]Workspace ready[/bold green] in {escape(str(root))}. Next: `ftrun plan`.")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="ftrun")


if __name__ == "__main__":  # pragma: no cover
    main()
