"""The planner: a pure function of (desired experiments, state, remote snapshot) returning an immutable plan.

No I/O happens here. Text, Markdown and JSON are renderings of the one `Plan` document (see runner.views.plan).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from runner import chains
from runner.adoption import adoptable_job
from runner.desired import Desired, Estimate
from runner.diagnostics import Diagnostic, Severity
from runner.evals.planning import Comparison, EvalStep, PromoteStep, plan_evals
from runner.evals.ranking import Entrant, SweepMember, SweepRanking, pick_best, rank_sweeps
from runner.fingerprint import FieldDiff, diff
from runner.job_status import JobStatus
from runner.moves import plan_moves
from runner.remote import RemoteJob, Snapshot
from runner.selection import Selection
from runner.state import Run, State, sweep_alias

PLAN_FORMAT_VERSION = 1


class Action(enum.StrEnum):
    MOVE = "move"  # moved_from: the experiment takes its new name in state (nothing retrains)
    CREATE = "create"
    RETRAIN = "retrain"
    ADOPT = "adopt"
    UPDATE_STATE = "update-state"
    CANCEL = "cancel"
    FORGET = "forget"
    DELETE_MODEL = "delete-model"  # destroy --delete-models only
    EVALUATE = "evaluate"  # run eval suites on a model (after its job succeeds)
    PROMOTE = "promote"  # move an alias to a run, when its gate passes (or to a pinned run)
    NOOP = "no-op"


# The order in which apply walks changes: renames first (every other change names the new name), then removals (they
# free capacity; a model is deleted while state still names it), then new jobs, then bookkeeping.
APPLY_ORDER = (
    Action.MOVE,
    Action.DELETE_MODEL,
    Action.CANCEL,
    Action.FORGET,
    Action.ADOPT,
    Action.RETRAIN,
    Action.CREATE,
    Action.UPDATE_STATE,
    Action.EVALUATE,
    Action.PROMOTE,
)


class Mode(enum.StrEnum):
    APPLY = "apply"  # make the target match the specs
    DESTROY = "destroy"  # cancel and forget everything in state (and delete models when asked)


@dataclass(frozen=True)
class Change:
    action: Action
    experiment: str
    reason: str
    fields: tuple[FieldDiff, ...] = ()
    training_hash: str | None = None
    job_id: str | None = None  # the existing job this change acts on (cancel, adopt)
    model: str | None = None  # the fine-tuned model a delete-model change deletes
    forced: bool = False  # a retrain asked for with --retrain: a failed job of this version is not adopted
    supersedes: str | None = None  # retrain: an active job of the previous version, cancelled first
    inputs: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    metadata_hash: str | None = None
    data: tuple[str, ...] = ()  # sha256 of the files the new job trains on
    estimate: Estimate | None = None
    file: str | None = None
    line: int | None = None
    notes: tuple[str, ...] = ()
    moved_from: str | None = None  # move: the experiment's previous name
    depth: int = 0  # how many experiments it builds on (a chain): upstream ones are applied first
    evaluate: EvalStep | None = None  # an evaluate change: the suite and the models it runs on
    promote: PromoteStep | None = None  # a promote change: the alias, the run and the gate
    sweep: str | None = None  # a change of a variant of a `matrix:`: the spec's own name (see runner.sweeps)
    sweep_values: tuple[tuple[str, Any], ...] = ()  # ... and the variant's (dotted field, value)s

    @property
    def spends(self) -> bool:
        return self.action in (Action.CREATE, Action.RETRAIN)

    @property
    def blocked(self) -> bool:
        """A promotion whose gate already fails: shown with its figures, but nothing to do."""
        return self.promote is not None and self.promote.blocked


@dataclass(frozen=True)
class Upload:
    sha256: str
    display: str
    bytes: int
    examples: int


@dataclass(frozen=True)
class Refresh:
    """A run whose remote status moved on since state was written (not a change: apply just records it)."""

    experiment: str
    job_id: str
    old_status: str
    job: RemoteJob


@dataclass(frozen=True)
class Drift:
    experiment: str
    job_id: str
    recorded_status: str
    remote_status: str  # "gone" when the target no longer has the job
    message: str


@dataclass(frozen=True)
class Plan:
    target: str
    endpoint: str
    workspace: str
    lineage: str
    serial: int
    changes: tuple[Change, ...]
    uploads: tuple[Upload, ...] = ()
    refresh: tuple[Refresh, ...] = ()
    drift: tuple[Drift, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    data: Mapping[str, str] = field(default_factory=dict)  # sha256 -> how the plan names that file
    new_spend_usd: float | None = 0.0
    new_billed_tokens: int = 0
    budget_max_usd: float | None = None
    retrain: tuple[str, ...] = ()
    mode: Mode = Mode.APPLY
    delete_models: bool = False  # destroy mode: the plan deletes the fine-tuned models too
    selection: Selection | None = None  # --select: only these experiments are planned; the others are left alone
    target_notes: tuple[str, ...] = ()  # what the target's capability profile implies
    format_version: int = PLAN_FORMAT_VERSION
    evals: tuple[Comparison, ...] = ()  # the eval table: each suite's figures per experiment
    sweeps: tuple[SweepRanking, ...] = ()  # each sweep's variants ranked by their evals

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP and not c.blocked)

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.blocked)

    @property
    def has_changes(self) -> bool:
        return bool(self.actionable)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    def counts(self) -> dict[Action, int]:
        out: dict[Action, int] = {a: 0 for a in Action if a is not Action.NOOP}
        for c in self.actionable:
            out[c.action] += 1
        return out

    def ordered(self) -> list[Change]:
        """In APPLY_ORDER; jobs to adopt or create go upstream first (a chain's base before what builds on it)."""

        def key(c: Change) -> tuple[int, int, int, str]:
            i = APPLY_ORDER.index(c.action)
            builds = c.action in (Action.ADOPT, Action.RETRAIN, Action.CREATE)
            return (APPLY_ORDER.index(Action.ADOPT) if builds else i, c.depth if builds else 0, i, c.experiment)

        return sorted(self.actionable, key=key)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["diagnostics"] = [x.to_dict() for x in self.diagnostics]
        d["summary"] = {str(a): n for a, n in self.counts().items()}
        d["has_changes"] = self.has_changes
        # Eval fields only where there are evals, so plans without them read as they always did.
        for c in d["changes"]:
            for key in ("evaluate", "promote", "sweep", "sweep_values"):
                if not c.get(key):
                    c.pop(key, None)
        if not d["evals"]:
            del d["evals"]
        if not d["sweeps"]:
            del d["sweeps"]
        for action in (Action.EVALUATE, Action.PROMOTE):
            if not d["summary"][str(action)]:
                del d["summary"][str(action)]
        return _jsonable(d)  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_jsonable(v) for v in value]
    return value


def _status(run: Run, snapshot: Snapshot) -> JobStatus:
    if run.job_id in snapshot.gone:
        return JobStatus.GONE
    job = snapshot.jobs.get(run.job_id)
    return JobStatus.of(job.status if job else run.status)


def make_plan(
    desired: Sequence[Desired],
    state: State,
    snapshot: Snapshot,
    *,
    target: str,
    endpoint: str,
    workspace: str,
    retrain: frozenset[str] = frozenset(),
    budget_max_usd: float | None = None,
    diagnostics: Sequence[Diagnostic] = (),
    mode: Mode = Mode.APPLY,
    delete_models: bool = False,
    selection: Selection | None = None,
    target_notes: Sequence[str] = (),
) -> Plan:
    """What apply would do. In destroy mode `desired` is ignored: everything in state is removed, and with
    `delete_models` every fine-tuned model state names is deleted too (they are kept otherwise).

    With a `selection`, only the experiments it names are planned: one it leaves out is neither created nor
    removed, whatever its spec or state says."""
    if mode is Mode.DESTROY:
        desired = ()
    if selection is not None:
        desired = [d for d in desired if d.experiment.name in selection]
    state, moves, move_diags = plan_moves(desired, state)
    move_diags = (*move_diags, *chains.missing_bases(desired, state))
    if selection is not None:
        state = replace(state, experiments={k: v for k, v in state.experiments.items() if k in selection})
    changes: list[Change] = [
        Change(
            Action.MOVE,
            m.new,
            f"renamed from {m.old} (moved_from)",
            moved_from=m.old,
            file=m.file,
            line=m.line,
            notes=m.notes,
        )
        for m in moves
    ]
    refresh: list[Refresh] = []
    drift: list[Drift] = []
    diags = [*diagnostics, *move_diags]

    # Refresh and drift: compare every run state knows with what the target says now.
    for name, es in sorted(state.experiments.items()):
        for run in es.runs:
            if run.job_id in snapshot.gone:
                if run.status != JobStatus.GONE:
                    drift.append(
                        Drift(name, run.job_id, run.status, JobStatus.GONE, "the job no longer exists on the target")
                    )
                continue
            job = snapshot.jobs.get(run.job_id)
            if job is None or job.status == run.status and job.fine_tuned_model == run.fine_tuned_model:
                continue
            refresh.append(Refresh(name, run.job_id, run.status, job))
            if JobStatus.of(run.status).is_active and JobStatus.of(job.status) is JobStatus.CANCELLED:
                drift.append(Drift(name, run.job_id, run.status, job.status, "the job was cancelled outside ftrun"))

    by_name = {d.experiment.name: d for d in desired}
    depth = chains.depths(d.experiment for d in desired)
    comparisons: list[Comparison] = []
    for name in sorted(by_name):
        change = _plan_experiment(by_name[name], state, snapshot, workspace=workspace, retrain=name in retrain)
        changes.append(replace(change, depth=depth[name]) if depth[name] else change)
        found, evals_of = _plan_evals(by_name[name], change, state, snapshot)
        changes += found
        exp = by_name[name].experiment
        if exp.sweep is not None:  # the variant's changes, marked for the views to show a sweep as one table
            n = len(found) + 1
            changes[-n:] = [replace(c, sweep=exp.sweep, sweep_values=exp.sweep_values) for c in changes[-n:]]
        comparisons += evals_of.comparisons
        diags += [
            Diagnostic(
                Severity.ERROR,
                p,
                file=change.file,
                line=by_name[name].experiment.line("promote"),
                experiment=name,
                check="bad-promote",
            )
            for p in evals_of.problems
        ]
    changes += _sweep_promotions(list(by_name.values()), state, comparisons)
    for name in sorted(set(state.experiments) - set(by_name)):
        es = state.experiments[name]
        cur = es.current_run
        status = _status(cur, snapshot) if cur else None
        why = "destroy" if mode is Mode.DESTROY else "its spec was removed"
        kept = () if delete_models else _kept_models(es.runs)
        if cur and status is not None and status.is_active:
            changes.append(
                Change(Action.CANCEL, name, f"{why}; job {cur.job_id} is still {status}", job_id=cur.job_id, notes=kept)
            )
        else:
            changes.append(Change(Action.FORGET, name, why, job_id=cur.job_id if cur else None, notes=kept))
        if delete_models:
            for run in es.runs:
                job = snapshot.jobs.get(run.job_id)
                model = (job.fine_tuned_model if job else None) or run.fine_tuned_model
                if model:
                    changes.append(
                        Change(
                            Action.DELETE_MODEL,
                            name,
                            f"{why} --delete-models",
                            job_id=run.job_id,
                            model=model,
                        )
                    )

    uploads: dict[str, Upload] = {}
    data: dict[str, str] = {}
    for d in desired:
        for ds in (d.training, d.validation):
            if ds is None:
                continue
            data[ds.sha256] = ds.display
    for c in changes:
        if not c.spends:
            continue
        dz = by_name[c.experiment]
        for ds in (dz.training, dz.validation):
            if ds is not None and ds.sha256 not in state.files and ds.sha256 not in uploads:
                uploads[ds.sha256] = Upload(ds.sha256, ds.display, ds.bytes, ds.examples)

    spending = [c for c in changes if c.spends]
    billed = sum((c.estimate.billed_tokens or 0) for c in spending if c.estimate)
    prices = [c.estimate.usd if c.estimate else None for c in spending]
    new_spend = None if any(p is None for p in prices) else round(sum(p for p in prices if p is not None), 6)
    if budget_max_usd is not None and new_spend is not None and new_spend > budget_max_usd:
        diags.append(
            Diagnostic(
                Severity.ERROR,
                f"this plan would spend ${new_spend:,.2f} ({billed:,} billed tokens), over the budget of "
                f"${budget_max_usd:,.2f}",
                file="ftrun.yaml",
                check="over-budget",
                hint="raise budget.max_usd in ftrun.yaml, or reduce epochs or data",
            )
        )
    unpriced = [c.experiment for c in spending if c.estimate is None or c.estimate.usd is None]
    if budget_max_usd is not None and unpriced:
        diags.append(
            Diagnostic(
                Severity.WARNING,
                f"the cost of {', '.join(unpriced)} cannot be estimated, so the budget of ${budget_max_usd:,.2f} "
                "cannot be checked for it",
                file="ftrun.yaml",
                check="unpriced",
                hint="add the model's training price per 1M tokens under `prices:` in ftrun.yaml",
            )
        )
    return Plan(
        target=target,
        endpoint=endpoint,
        workspace=workspace,
        lineage=state.lineage,
        serial=state.serial,
        changes=tuple(changes),
        uploads=tuple(uploads.values()),
        refresh=tuple(refresh),
        drift=tuple(drift),
        diagnostics=tuple(diags),
        data=data,
        new_spend_usd=new_spend,
        new_billed_tokens=billed,
        budget_max_usd=budget_max_usd,
        retrain=tuple(sorted(retrain)),
        mode=mode,
        delete_models=delete_models,
        selection=selection,
        evals=tuple(comparisons),
        sweeps=rank_sweeps(_sweep_members(desired), comparisons),
        target_notes=tuple(target_notes),
    )


def _picks(d: Desired) -> bool:
    return d.experiment.sweep is not None and d.experiment.promote is not None and d.experiment.promote.pick is not None


def _sweep_promotions(desired: Sequence[Desired], state: State, comparisons: Sequence[Comparison]) -> list[Change]:
    """`promote: {pick: best}`: one promote change per sweep, moving the sweep's alias to its best variant that
    passes the gate (decided now when every variant has been scored, else by apply once they are)."""
    groups: dict[str, list[Desired]] = {}
    for d in desired:
        if _picks(d):
            groups.setdefault(d.experiment.sweep or "", []).append(d)
    rows = {(c.experiment, c.suite): c for c in comparisons}
    out = []
    for sweep, group in sorted(groups.items()):
        first = group[0].experiment
        if len(group) < first.sweep_size:  # a selection of some of its variants: the alias is left as it is
            continue
        rule = first.promote
        assert rule is not None
        suite = next((s for s in group[0].suites if s.name == rule.suite), None)
        if suite is None:  # the gate's suite did not load: its errors are reported where it is read
            continue
        held = sweep_alias(state, sweep, rule.alias)
        holder_job = held[1].job_id if held else None
        holder_run = state.experiments[held[0]].run(holder_job) if held else None
        step = PromoteStep(
            rule.alias,
            None,
            suite=suite.name,
            key=suite.key,
            min_pass_rate=rule.min_pass_rate,
            no_regression=rule.no_regression,
            holder=holder_job,
            sweep=sweep,
        )
        found = [rows.get((d.experiment.name, suite.name)) for d in group]
        if any(c is None or c.pending for c in found):
            reason = f"after the variants' evals, to the best that passes the gate on {suite.name}"
            out.append(
                Change(Action.PROMOTE, sweep, reason=reason, promote=step, file=first.file, line=first.line("promote"))
            )
            continue
        entrants = [Entrant(c.experiment, c.candidate_job, c.candidate) for c in found if c is not None]
        holder_result = holder_run.eval_result(suite.key) if holder_run else None
        pick = pick_best(rule, entrants, holder_result, held=held is not None)
        if pick.winner is not None and pick.winner.job_id == holder_job:
            continue
        if pick.winner is None:
            step = replace(step, figures=pick.figures, blocked=True)
        else:
            step = replace(step, job_id=pick.winner.job_id, variant=pick.winner.experiment, figures=pick.figures)
        reason = f"gate {'blocked' if step.blocked else 'passes'}: {pick.figures}"
        out.append(
            Change(Action.PROMOTE, sweep, reason=reason, promote=step, file=first.file, line=first.line("promote"))
        )
    return out


def _sweep_members(desired: Sequence[Desired]) -> list[SweepMember]:
    return [
        SweepMember(
            d.experiment.name,
            d.experiment.sweep,
            d.experiment.sweep_values,
            tuple(s.name for s in d.suites),
            d.experiment.promote.suite if d.experiment.promote else None,
        )
        for d in desired
        if d.experiment.sweep is not None
    ]


def _plan_evals(d: Desired, change: Change, state: State, snapshot: Snapshot) -> tuple[list[Change], Any]:
    """The evaluate and promote changes of one experiment, after its training change."""
    exp = d.experiment
    es = state.experiments.get(exp.name)
    promote = None if _picks(d) else exp.promote  # a sweep's alias is planned for the sweep (_sweep_promotions)
    if not d.suites and promote is None:
        return [], plan_evals(exp.name, exp.model, (), None, es, None, trains=False)
    trains = change.action in (Action.CREATE, Action.RETRAIN) or (
        change.action is Action.ADOPT and (es is None or es.run(change.job_id) is None)
    )
    candidate = es.run(change.job_id) if es and change.action is Action.ADOPT else (es.current_run if es else None)
    job = snapshot.jobs.get(candidate.job_id) if candidate else None
    if candidate is not None and job is not None:  # as the target reports it now (apply records it first)
        candidate = replace(candidate, status=job.status, fine_tuned_model=job.fine_tuned_model)
    found = plan_evals(exp.name, d.api_model or exp.model, d.suites, promote, es, candidate, trains=trains)
    out = [
        Change(
            Action.EVALUATE,
            exp.name,
            reason=_eval_reason(step, trains, candidate),
            evaluate=step,
            file=exp.file,
            line=exp.line("evals"),
        )
        for step in found.evaluate
    ]
    if found.promote is not None:
        p = found.promote
        if p.pinned:
            reason = f"{exp.name}@{p.alias} is pinned to job {p.job_id}"
        elif p.figures:
            reason = f"gate {'blocked' if p.blocked else 'passes'}: {p.figures}"
        else:
            reason = f"after its evals, if {p.suite} passes the gate"
        out.append(Change(Action.PROMOTE, exp.name, reason=reason, promote=p, file=exp.file, line=exp.line("promote")))
    return out, found


def _eval_reason(step: EvalStep, trains: bool, candidate: Run | None) -> str:
    roles = ", ".join(str(s.role) for s in step.subjects)
    if trains:
        return f"{step.suite} on the new model once trained ({roles})"
    ran_before = candidate is not None and any(e.suite == step.suite for e in candidate.evals)
    why = "the suite or its sampling changed" if ran_before else "not evaluated on it yet"
    return f"{step.suite}: {why} ({roles})"


def _signature(changes: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("action", "experiment", "training_hash", "job_id", "supersedes", "model", "moved_from")
    return sorted(
        (*(c.get(k) for k in keys), *_eval_signature(c)) for c in changes if c.get("action") != Action.NOOP.value
    )


def _eval_signature(change: Mapping[str, Any]) -> tuple[Any, ...]:
    """What an evaluate or promote change acts on: the suite's key, and the run an alias moves to."""
    evaluate, promote = change.get("evaluate") or {}, change.get("promote") or {}
    return (evaluate.get("key"), promote.get("alias"), promote.get("job_id"), promote.get("key"))


def stale_reasons(saved: Mapping[str, Any], fresh: Plan) -> list[str]:
    """Why a saved plan (its JSON document) no longer describes what applying now would do; empty if it still does."""
    now = fresh.to_dict()
    reasons = []
    if saved.get("format_version") != PLAN_FORMAT_VERSION:
        reasons.append(f"it has plan format {saved.get('format_version')!r}, this ftrun writes {PLAN_FORMAT_VERSION}")
    if saved.get("mode", Mode.APPLY.value) != now["mode"]:
        reasons.append(f"it is a {saved.get('mode', Mode.APPLY.value)} plan, not a {now['mode']} plan")
    for key in ("target", "lineage", "serial"):
        if key == "lineage" and saved.get("serial") == now["serial"] == 0:
            continue  # no state yet, then or now: the lineage is not set until the first write
        if saved.get(key) != now[key]:
            reasons.append(f"the state's {key} is {now[key]!r}, the plan was made at {saved.get(key)!r}")
    if (saved.get("selection") or None) != now["selection"]:
        reasons.append("it was made for another selection of experiments")
    if set(saved.get("data") or {}) != set(now["data"]):
        reasons.append("the data it was made from changed")
    if not reasons and _signature(saved.get("changes") or []) != _signature(now["changes"]):
        reasons.append("the specs or the target changed since")
    return reasons


def _kept_models(runs: Sequence[Run]) -> tuple[str, ...]:
    models = [r.fine_tuned_model for r in runs if r.fine_tuned_model]
    return (f"kept on the target: {', '.join(models)}",) if models else ()


def _plan_experiment(d: Desired, state: State, snapshot: Snapshot, *, workspace: str, retrain: bool) -> Change:
    exp = d.experiment
    name = exp.name
    es = state.experiments.get(name)
    cur = es.current_run if es else None
    known = {r.job_id for r in es.runs} if es else set()
    # Every change of a desired experiment carries what it wants; each branch below says what to do and why.
    base = Change(
        Action.NOOP,
        name,
        reason="",
        training_hash=d.training_hash,
        inputs=d.inputs,
        metadata=d.metadata,
        metadata_hash=d.metadata_hash,
        data=tuple(ds.sha256 for ds in (d.training, d.validation) if ds is not None),
        file=exp.file,
        line=1,
    )
    spend = replace(base, estimate=d.estimate)
    status = _status(cur, snapshot) if cur else None
    # A job with our tags for exactly this version that state does not know (e.g. apply died after creating it),
    # wherever a new job would otherwise be created.
    settled_badly = status in (JobStatus.GONE, JobStatus.FAILED, JobStatus.CANCELLED)
    wants_job = cur is None or cur.training_hash != d.training_hash or settled_badly
    orphan = adoptable_job(
        snapshot.jobs.values(),
        workspace=workspace,
        experiment=name,
        training_hash=d.training_hash,
        known=known,
        allow_failed=not retrain,
    )
    if wants_job and orphan:
        why = f"job {orphan.id} ({orphan.status}) was created for this version but is not in state"
        return replace(base, action=Action.ADOPT, reason=why, job_id=orphan.id)
    spend = replace(spend, forced=retrain)
    if cur is None or status is None:
        return replace(spend, action=Action.CREATE, reason="new experiment" if es is None else "no current run")
    active = cur.job_id if status.is_active else None
    if status is JobStatus.GONE:
        return replace(spend, action=Action.CREATE, reason=f"job {cur.job_id} no longer exists on the target")
    if cur.training_hash != d.training_hash and not retrain and es is not None:
        # Back to a version an earlier run already trained (or is training): make that run current again rather
        # than paying for the same job twice.
        earlier = max(
            (
                r
                for r in es.runs
                if r.training_hash == d.training_hash
                and _status(r, snapshot) not in (JobStatus.CANCELLED, JobStatus.GONE)
            ),
            key=lambda r: (r.created_at, r.job_id),
            default=None,
        )
        if earlier is not None:
            why = (
                f"job {earlier.job_id} already trained this version ({_status(earlier, snapshot)}): it becomes current"
            )
            return replace(base, action=Action.ADOPT, reason=why, job_id=earlier.job_id, supersedes=active)
    if cur.training_hash != d.training_hash:
        fields = diff(cur.inputs, d.inputs)
        why = chains.changed(fields, d.inputs)
        return replace(spend, action=Action.RETRAIN, reason=why, fields=fields, supersedes=active)
    if retrain:
        return replace(spend, action=Action.RETRAIN, reason="retrain requested (--retrain)", supersedes=active)
    notes: tuple[str, ...] = ()
    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        job = snapshot.jobs.get(cur.job_id)
        error = (job.error if job else None) or cur.error or {}
        why = f": {error.get('message') or error.get('code')}" if error else ""
        notes = (
            f"job {cur.job_id} {status}{why}",
            f"not retried until its spec or data changes, or `ftrun apply --retrain {name}`",
        )
    assert es is not None
    if es.metadata_hash != d.metadata_hash:
        fields = diff(es.metadata, d.metadata)
        reason = f"{', '.join(f.path for f in fields)} changed (no retraining)"
        return replace(base, action=Action.UPDATE_STATE, reason=reason, fields=fields, notes=notes)
    reason = f"last run {status}" if notes else f"up to date ({status})"
    return replace(base, reason=reason, job_id=cur.job_id, notes=notes)
