"""The applier: walks a plan's changes in order, under the state lock, saving state after every step.

It never creates a job twice: before any create it looks for a job carrying this experiment's tags, and a crash at
any point followed by another apply ends with no duplicate job and no duplicate upload.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, assert_never

from runner import events as ev
from runner.adoption import adoptable_job, version_code
from runner.datasets import Dataset, sha256_file
from runner.desired import Desired
from runner.diagnostics import ProviderError, SpecError
from runner.evals.gate import Promotion, decide
from runner.evals.judges import Chat
from runner.evals.planning import Role
from runner.evals.ranking import Entrant, pick_best
from runner.evals.records import AliasRecord, EvalResult
from runner.evals.runner import DEFAULT_CONCURRENCY, evaluate
from runner.evals.suite import Suite
from runner.failpoints import failpoint
from runner.job_status import JobStatus
from runner.plan import Action, Change, Plan
from runner.profiles import PROFILES, Profile
from runner.remote import (
    TAG_EXPERIMENT,
    TAG_LINEAGE,
    TAG_TRAINING_HASH,
    TAG_WORKSPACE,
    JobRequest,
    Progress,
    Provider,
    RemoteJob,
)
from runner.state import ExperimentState, FileRecord, Run, State, StateStore, sweep_alias


class Observer(Protocol):
    """Who hears what apply does, as it happens (the CLI's views render it; tests may record it)."""

    def event(self, event: ev.Event) -> None: ...

    def job_progress(self, experiment: str, job: RemoteJob, progress: Progress | None) -> None: ...

    def upload_progress(self, display: str, sent: int, total: int) -> None: ...


class Silent:
    def event(self, event: ev.Event) -> None:
        pass

    def job_progress(self, experiment: str, job: RemoteJob, progress: Progress | None) -> None:
        pass

    def upload_progress(self, display: str, sent: int, total: int) -> None:
        pass


@dataclass
class Applier:
    store: StateStore
    provider: Provider
    workspace: str
    desired: Mapping[str, Desired]
    observer: Observer
    state: State
    max_active_jobs: int | None = None  # the target's limit on jobs active at once (ftrun.yaml)
    poll_interval: float = 1.0
    profile: Profile = PROFILES["ftrun"]  # what the target supports: where it keeps no metadata, jobs carry a code
    events: list[ev.Event] = field(default_factory=list)  # what happened, in order
    eval_concurrency: int = DEFAULT_CONCURRENCY  # chat requests in flight at once while evaluating
    judges: Mapping[str, Chat] = field(default_factory=dict)  # the targets judge assertions name
    free: bool = False  # the target charges nothing for chat
    deferred: list[Change] = field(default_factory=list)  # evaluate/promote steps waiting for their job

    def _save(self) -> None:
        self.state = self.store.save(self.state)

    def _emit(self, event: ev.Event) -> None:
        self.events.append(event)
        self.observer.event(event)

    # -- the walk --------------------------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> State:
        """Walk the plan's changes (an apply or a destroy plan); `events` then says what actually happened."""
        for change in plan.ordered():
            if change.action is Action.MOVE:  # first: the refresh and every other change use the new names
                self._move(change)
        self._refresh(plan)
        for change in plan.ordered():
            match change.action:
                case Action.MOVE:
                    pass  # done above
                case Action.CANCEL:
                    self._cancel_and_forget(change)
                case Action.FORGET:
                    self._forget(change)
                case Action.DELETE_MODEL:
                    self._delete_model(change)
                case Action.ADOPT:
                    self._adopt(change)
                case Action.CREATE | Action.RETRAIN:
                    self._create(change)
                case Action.UPDATE_STATE:
                    self._set_metadata(change)
                    self._save()
                    self._emit(ev.StateUpdated(change.experiment, change.reason))
                case Action.EVALUATE:
                    self._evaluate(change, final=False)
                case Action.PROMOTE:
                    self._promote(change, final=False)
                case Action.NOOP:  # pragma: no cover - plan.ordered() leaves these out
                    pass
                case unreachable:
                    assert_never(unreachable)
        return self.state

    def _refresh(self, plan: Plan) -> None:
        if not plan.refresh and not plan.drift:
            return
        for r in plan.refresh:
            self._update_run(r.experiment, r.job)
        for d in plan.drift:
            if d.remote_status == JobStatus.GONE:
                self._mark_gone(d.experiment, d.job_id)
        self._save()
        self._emit(ev.RunsRefreshed(len(plan.refresh) + len(plan.drift)))

    def _update_run(self, experiment: str, job: RemoteJob) -> None:
        es = self.state.experiments.get(experiment)
        run = es.run(job.id) if es else None
        if es is None or run is None:
            return
        self.state = self.state.with_run(experiment, run.observed(job, int(time.time())), current=es.current == job.id)

    def _cancel(self, experiment: str, job_id: str) -> None:
        try:
            job: RemoteJob | None = self.provider.cancel_job(job_id)
        except ProviderError:
            # It may have finished, or gone, meanwhile (a terminal job cannot be cancelled): record what it is now.
            job = self.provider.get_job(job_id)
            if job is not None and not JobStatus.of(job.status).is_terminal:
                raise
        if job is None:
            self._mark_gone(experiment, job_id)
            self._emit(ev.JobGone(experiment, job_id))
            return
        self._update_run(experiment, job)
        self._emit(ev.JobCancelled(experiment, job_id, job.status))

    def cancel_current(self, experiment: str) -> None:
        """`ftrun cancel NAME`: stop the experiment's current job; state keeps the run (as cancelled)."""
        run = self._current(experiment)
        self._cancel(experiment, run.job_id)
        self._save()

    def resume_current(self, experiment: str) -> None:
        """`ftrun resume NAME`: continue the experiment's paused job from its checkpoint."""
        run = self._current(experiment)
        if JobStatus.of(run.status) is not JobStatus.PAUSED:
            raise ProviderError(f"{experiment}: job {run.job_id} is {run.status}, not paused: nothing to resume")
        job = self.provider.resume_job(run.job_id)
        self._update_run(experiment, job)
        self._save()
        self._emit(ev.JobResumed(experiment, job.id, job.status))

    def _current(self, experiment: str) -> Run:
        es = self.state.experiments.get(experiment)
        run = es.current_run if es else None
        if run is None:
            raise ProviderError(f"{experiment} has no current run in state")
        return run

    def _mark_gone(self, experiment: str, job_id: str) -> None:
        es = self.state.experiments.get(experiment)
        run = es.run(job_id) if es else None
        if es is not None and run is not None:
            gone = replace(run, status=JobStatus.GONE.value)
            self.state = self.state.with_run(experiment, gone, current=es.current == job_id)

    def _forget(self, change: Change) -> None:
        self.state = self.state.without_experiment(change.experiment)
        self._save()
        self._emit(ev.ExperimentForgotten(change.experiment, change.notes))

    def _move(self, change: Change) -> None:
        assert change.moved_from
        self.state = self.state.renamed(change.moved_from, change.experiment)
        self._save()
        self._emit(ev.ExperimentMoved(change.moved_from, change.experiment))

    def _cancel_and_forget(self, change: Change) -> None:
        assert change.job_id
        self._cancel(change.experiment, change.job_id)
        self._save()
        self._forget(change)

    def _delete_model(self, change: Change) -> None:
        """Delete a fine-tuned model (destroy --delete-models); one the target no longer has is reported as such."""
        assert change.model
        existed = self.provider.delete_model(change.model)
        self._emit(ev.ModelDeleted(change.experiment, change.model, existed=existed))

    # -- creating jobs ---------------------------------------------------------------------------------------------
    def _ensure_file(self, ds: Dataset) -> str:
        known = self.state.files.get(ds.sha256)
        if known:
            if self.provider.get_file(known.file_id) is not None:
                return known.file_id
            self._emit(ev.FileMissing(ds.display, known.file_id))
        filename = upload_filename(ds)
        found = self.provider.find_file(filename, ds.bytes)
        if found:
            self._emit(ev.FileReused(ds.display, found.id))
            remote = found
        else:
            if sha256_file(ds.path) != ds.sha256:
                raise SpecError(
                    f"{ds.display} changed after it was checked (its sha256 is no longer {ds.sha256[:12]})",
                    hint="run the command again: it checks and uploads the new content",
                )
            self._emit(ev.FileUploading(ds.display, ds.bytes))
            remote = self.provider.upload_file(
                ds.path, filename, lambda sent: self.observer.upload_progress(ds.display, sent, ds.bytes)
            )
            self._emit(ev.FileUploaded(ds.display, remote.id, remote.bytes))
        record = FileRecord(file_id=remote.id, bytes=remote.bytes, filename=filename, uploaded_at=remote.created_at)
        self.state = self.state.with_file(ds.sha256, record)
        self._save()
        return remote.id

    def _tags(self, change: Change) -> dict[str, str]:
        assert change.training_hash
        return {
            TAG_WORKSPACE: self.workspace,
            TAG_EXPERIMENT: change.experiment,
            TAG_TRAINING_HASH: change.training_hash,
        }

    def _create(self, change: Change) -> None:
        d = self.desired[change.experiment]
        exp = d.experiment
        if change.supersedes:
            self._cancel(change.experiment, change.supersedes)
            self._save()
        training_id = self._ensure_file(d.training)
        validation_id = self._ensure_file(d.validation) if d.validation else None
        tags = self._tags(change)
        es = self.state.experiments.get(change.experiment)
        known = {r.job_id for r in es.runs} if es else set()
        listed = self.provider.list_jobs(tags)
        # The plan saw no job of this version to adopt; one may have appeared since (a concurrent or crashed apply).
        # A failed one is adopted too unless a retrain was asked for, exactly as the planner decides.
        assert change.training_hash
        name, version = change.experiment, change.training_hash
        existing = adoptable_job(
            listed,
            workspace=self.workspace,
            experiment=name,
            training_hash=version,
            known=known,
            allow_failed=not change.forced,
        )
        if existing is not None:
            self._record(change, existing, adopted=True)
            self._emit(ev.JobAdopted(change.experiment, existing.id, existing.status, ev.Adoption.FOUND_BEFORE_CREATE))
            return
        self._await_slot()
        request = JobRequest(
            model=self._base_model(change, d) if exp.base_experiment else d.api_model or exp.model,
            training_file=training_id,
            validation_file=validation_id,
            method=exp.method.to_api(),
            suffix=self.profile.job_suffix(exp.suffix, name, version_code(self.workspace, name, version)),
            seed=exp.seed,
            metadata={**exp.metadata, **tags, TAG_LINEAGE: self.state.lineage},
            integrations=exp.integrations,
        )
        try:
            job = self.provider.create_job(request)
        except ProviderError:
            # The request may have reached the server before the connection broke: a job of this version that was not
            # there a moment ago is the one it created, whatever its status.
            seen = known | {j.id for j in listed}
            found = adoptable_job(
                self.provider.list_jobs(tags),
                workspace=self.workspace,
                experiment=name,
                training_hash=version,
                known=seen,
            )
            if found is None:
                raise
            failpoint("job-created")
            self._record(change, found, adopted=True)
            self._emit(ev.JobAdopted(change.experiment, found.id, found.status, ev.Adoption.FOUND_AFTER_ERROR))
            return
        failpoint("job-created")
        self._record(change, job, adopted=False)
        self._emit(ev.JobCreated(change.experiment, job.id, retrain=change.action is Action.RETRAIN))

    def _base_model(self, change: Change, d: Desired) -> str:
        """A chain's base: the fine-tuned model of the upstream's current run, of the version this one was planned
        on; waits while that job is still training (apply walks upstream first, so it was created just before)."""
        base = d.experiment.base_experiment
        assert base is not None and change.inputs is not None
        wanted = change.inputs["model"]["training_hash"]
        announced = False
        while True:
            es = self.state.experiments.get(base)
            run = es.current_run if es else None
            if run is None or run.training_hash != wanted:
                raise ProviderError(
                    f"{change.experiment} trains on the model of {base}, which has no run of the version it needs",
                    hint=f"apply {base} with it: `ftrun apply -s +{change.experiment}`",
                )
            if run.fine_tuned_model and JobStatus.of(run.status) is JobStatus.SUCCEEDED:
                return run.fine_tuned_model
            if JobStatus.of(run.status).is_terminal or run.status == JobStatus.GONE:
                raise ProviderError(f"{change.experiment} cannot train: its base model {base} is {run.status}")
            if not announced:
                self._emit(ev.WaitingForBase(change.experiment, base, run.job_id))
                announced = True
            time.sleep(self.poll_interval)
            job = self.provider.get_job(run.job_id)
            if job is None:
                raise ProviderError(f"{change.experiment} cannot train: job {run.job_id} of {base} is gone")
            if job.status != run.status or job.fine_tuned_model != run.fine_tuned_model:
                self._update_run(base, job)
                self._save()

    def _await_slot(self) -> None:
        """Block until fewer than `max_active_jobs` of this workspace's jobs are active on the target."""
        if not self.max_active_jobs:
            return
        announced = False
        while True:
            active = []
            for name, es in self.state.experiments.items():
                for run in es.runs:
                    if not run.active:
                        continue
                    job = self.provider.get_job(run.job_id)
                    if job is not None and job.status != run.status:
                        self._update_run(name, job)
                        self._save()
                    if job is not None and JobStatus.of(job.status).needs_polling:
                        active.append(run.job_id)
            if len(active) < self.max_active_jobs:
                return
            if not announced:
                self._emit(ev.WaitingForSlot(len(active), self.max_active_jobs))
                announced = True
            time.sleep(self.poll_interval)

    def _set_metadata(self, change: Change) -> None:
        """Record the experiment's description, labels and metadata as the change has them (creating its entry)."""
        assert change.metadata is not None and change.metadata_hash
        es = self.state.experiments.get(change.experiment) or ExperimentState(
            name=change.experiment, metadata_hash=change.metadata_hash, metadata={}
        )
        self.state = self.state.with_experiment(
            replace(es, metadata=dict(change.metadata), metadata_hash=change.metadata_hash)
        )

    def _adopt(self, change: Change) -> None:
        """Make an existing job this experiment's current run: one state does not know yet, or an earlier run."""
        assert change.job_id
        if change.supersedes:
            self._cancel(change.experiment, change.supersedes)
            self._save()
        job = self.provider.get_job(change.job_id)
        if job is None:
            raise ProviderError(f"job {change.job_id} disappeared before it could be adopted; plan again")
        es = self.state.experiments.get(change.experiment)
        earlier = es.run(job.id) if es else None
        if earlier is None:
            self._record(change, job, adopted=True)
            self._emit(ev.JobAdopted(change.experiment, job.id, job.status, ev.Adoption.ORPHAN))
            return
        self._set_metadata(change)
        self.state = self.state.with_run(change.experiment, earlier.observed(job, int(time.time())))
        self._save()
        self._emit(ev.JobAdopted(change.experiment, job.id, job.status, ev.Adoption.CURRENT_AGAIN))

    def _record(self, change: Change, job: RemoteJob, *, adopted: bool) -> None:
        assert change.training_hash and change.inputs is not None
        self._set_metadata(change)
        desired = self.desired.get(change.experiment)
        data = desired.training if desired else None
        run = Run(
            job_id=job.id,
            training_hash=change.training_hash,
            inputs=dict(change.inputs),
            status=job.status,
            created_at=job.created_at,
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            error=job.error,
            finished_at=job.finished_at,
            estimated_usd=change.estimate.usd if change.estimate else None,
            estimated_tokens=change.estimate.billed_tokens if change.estimate else None,
            adopted=adopted,
            examples=data.examples if data else None,
            data_tokens=data.stats.total_tokens if data and data.stats else None,
        )
        self.state = self.state.with_run(change.experiment, run)
        self._save()

    # -- evals and promotion ---------------------------------------------------------------------------------------
    def run_deferred(self) -> State:
        """The evaluate and promote steps that waited for their jobs (after `wait`); those still waiting say so."""
        pending, self.deferred = self.deferred, []
        for change in pending:
            if change.action is Action.EVALUATE:
                self._evaluate(change, final=True)
            else:
                self._promote(change, final=True)
        return self.state

    def evaluate_now(self, plan: Plan, experiments: Collection[str] = ()) -> State:
        """`ftrun eval`: record the plan's refreshed statuses, then run its evaluate steps (of `experiments`)."""
        self._refresh(plan)
        for change in plan.ordered():
            if change.action is Action.EVALUATE and (not experiments or change.experiment in experiments):
                self._evaluate(change, final=True)
        return self.state

    def report_deferred(self) -> None:
        for change in self.deferred:
            what = change.evaluate.suite if change.evaluate else f"{change.experiment}@{change.promote.alias}"  # type: ignore[union-attr]
            self._emit(ev.EvaluationDeferred(change.experiment, what, "its job has not succeeded yet"))

    def _candidate(self, experiment: str, job_id: str | None) -> Run | None:
        es = self.state.experiments.get(experiment)
        run = (es.run(job_id) if job_id else es.current_run) if es else None
        ok = run is not None and JobStatus.of(run.status) is JobStatus.SUCCEEDED and run.fine_tuned_model
        return run if ok else None

    def _wait_for(self, change: Change, what: str, run_id: str | None, final: bool) -> None:
        if not final:
            self.deferred.append(change)
            return
        es = self.state.experiments.get(change.experiment)
        run = (es.run(run_id) if run_id else es.current_run) if es else None
        status = run.status if run else "not created"
        self._emit(ev.EvaluationDeferred(change.experiment, what, f"its job is {status}"))

    def _evaluate(self, change: Change, *, final: bool) -> None:
        step = change.evaluate
        assert step is not None
        d = self.desired[change.experiment]
        suite = next(s for s in d.suites if s.name == step.suite)
        candidate = next((s for s in step.subjects if s.role is Role.CANDIDATE), None)
        if candidate is not None and self._candidate(change.experiment, candidate.job_id) is None:
            self._wait_for(change, step.suite, candidate.job_id, final)
            return
        for subject in step.subjects:
            es = self.state.experiments[change.experiment]
            if subject.role is Role.BASE:
                assert subject.model
                if any(b.key == suite.key and b.model == subject.model for b in es.baselines):
                    continue
                result = self._run_suite(suite, subject.model)
                kept = tuple(b for b in es.baselines if not (b.key == suite.key and b.model == subject.model))
                self.state = self.state.with_experiment(replace(es, baselines=(*kept, result)))
                job_id = None
            else:
                run = self._candidate(change.experiment, subject.job_id)
                if run is None or run.eval_result(suite.key) is not None:
                    continue
                assert run.fine_tuned_model
                result = self._run_suite(suite, run.fine_tuned_model)
                self.state = self.state.with_run(
                    change.experiment, run.with_eval(result), current=es.current == run.job_id
                )
                job_id = run.job_id
            self._save()
            self._emit(
                ev.SuiteEvaluated(
                    change.experiment,
                    suite.name,
                    str(subject.role),
                    result.model,
                    job_id,
                    result.available,
                    result.cases,
                    result.passed,
                    result.failed,
                    result.errors,
                    result.pass_rate,
                    result.reason,
                )
            )

    def _run_suite(self, suite: Suite, model: str) -> EvalResult:
        return evaluate(
            self.provider, suite, model, concurrency=self.eval_concurrency, judges=self.judges, free=self.free
        )

    def _promote(self, change: Change, *, final: bool) -> None:
        p = change.promote
        assert p is not None
        if p.sweep is not None:
            self._promote_sweep(change, p.sweep, final=final)
            return
        es = self.state.experiments.get(change.experiment)
        holder = es.aliases.get(p.alias) if es else None
        alias = f"{change.experiment}@{p.alias}"
        if p.pinned:
            assert es is not None and p.job_id
            self._move_alias(es, p.alias, p.job_id, holder, "pinned", pinned=True)
            return
        run = self._candidate(change.experiment, p.job_id)
        result = run.eval_result(p.key) if run is not None and p.key else None
        if run is None or result is None:
            self._wait_for(change, alias, p.job_id, final)
            return
        assert es is not None and p.suite
        held = es.run(holder.job_id) if holder else None
        rule = Promotion(p.alias, p.suite, p.min_pass_rate, p.no_regression)
        verdict = decide(rule, result, held.eval_result(p.key) if held and p.key else None)
        if held is not None and held.job_id == run.job_id:
            return
        if not verdict.passed:
            self._emit(
                ev.PromotionBlocked(change.experiment, p.alias, holder.job_id if holder else None, verdict.figures)
            )
            return
        self._move_alias(es, p.alias, run.job_id, holder, verdict.figures, scores={p.suite: result.pass_rate})

    def _promote_sweep(self, change: Change, sweep: str, *, final: bool) -> None:
        """`pick: best`: decided again from state, once every variant of the sweep has its result on the suite."""
        p = change.promote
        assert p is not None and p.suite and p.key
        alias = f"{sweep}@{p.alias}"
        variants = sorted(n for n, d in self.desired.items() if d.experiment.sweep == sweep)
        entrants = []
        for name in variants:
            es = self.state.experiments.get(name)
            run = es.current_run if es else None
            usable = self._candidate(name, None)
            result = usable.eval_result(p.key) if usable is not None else None
            waiting = run is not None and JobStatus.of(run.status).is_active
            if waiting or (usable is not None and result is None):
                if not final:
                    self.deferred.append(change)
                else:
                    why = f"its job is {run.status}" if waiting and run else f"not evaluated on {p.suite} yet"
                    self._emit(ev.EvaluationDeferred(sweep, alias, f"variant {name}: {why}"))
                return
            entrants.append(Entrant(name, usable.job_id if usable else None, result))
        held = sweep_alias(self.state, sweep, p.alias)
        holder_run = self.state.experiments[held[0]].run(held[1].job_id) if held else None
        rule = Promotion(p.alias, p.suite, p.min_pass_rate, p.no_regression, pick="best")
        pick = pick_best(rule, entrants, holder_run.eval_result(p.key) if holder_run else None, held=held is not None)
        holder_job = held[1].job_id if held else None
        if pick.winner is None:
            self._emit(ev.PromotionBlocked(sweep, p.alias, holder_job, pick.figures))
            return
        if pick.winner.job_id == holder_job or pick.winner.job_id is None:
            return
        if held is not None:  # one variant holds the sweep's alias at a time
            old = self.state.experiments[held[0]]
            rest = {a: r for a, r in old.aliases.items() if a != p.alias}
            self.state = self.state.with_experiment(replace(old, aliases=rest))
        winner = self.state.experiments[pick.winner.experiment]
        result = pick.winner.result
        record = AliasRecord(
            job_id=pick.winner.job_id,
            since=int(time.time()),
            scores={p.suite: result.pass_rate if result else None},
            sweep=sweep,
        )
        self.state = self.state.with_experiment(replace(winner, aliases={**winner.aliases, p.alias: record}))
        self._save()
        self._emit(ev.AliasMoved(sweep, p.alias, pick.winner.job_id, holder_job, pick.figures))

    def _move_alias(
        self,
        es: ExperimentState,
        alias: str,
        job_id: str,
        holder: AliasRecord | None,
        figures: str,
        *,
        pinned: bool = False,
        scores: Mapping[str, float | None] | None = None,
    ) -> None:
        record = AliasRecord(job_id=job_id, since=int(time.time()), scores=dict(scores or {}), pinned=pinned)
        self.state = self.state.with_experiment(replace(es, aliases={**es.aliases, alias: record}))
        self._save()
        self._emit(ev.AliasMoved(es.name, alias, job_id, holder.job_id if holder else None, figures))

    # -- waiting ---------------------------------------------------------------------------------------------------
    def wait(self, experiments: list[str], poll_interval: float, timeout: float | None = None) -> State:
        """Poll the current runs of `experiments` until each is terminal, saving state on every status change."""
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            pending = []
            for name in experiments:
                es = self.state.experiments.get(name)
                run = es.current_run if es else None
                if run is None or JobStatus.of(run.status).is_settled:
                    continue
                job = self.provider.get_job(run.job_id)
                if job is None:
                    continue
                status = JobStatus.of(job.status)
                progress = self.provider.progress(job.id) if not status.is_terminal else None
                self.observer.job_progress(name, job, progress)
                if (job.status, job.fine_tuned_model) != (run.status, run.fine_tuned_model):
                    self._update_run(name, job)
                    self._save()
                if status.needs_polling:
                    pending.append(name)
            if not pending:
                return self.state
            if deadline and time.monotonic() > deadline:
                raise ProviderError(f"timed out waiting for {', '.join(pending)}")
            time.sleep(poll_interval)


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def upload_filename(ds: Dataset) -> str:
    """Content-addressed: the sha256 in the name lets a lost state find the upload again."""
    stem = _SAFE.sub("-", Path(ds.display.split(" ")[0]).stem).strip("-") or "data"
    return f"{stem[:40]}.{ds.sha256}.jsonl"
