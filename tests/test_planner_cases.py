"""The planner as data: each file under planner_cases/ is (desired, state, remote) -> expected plan, in memory.

See planner_cases/README.md for the format. No workspace, no disk, no target: the pure function alone.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.datasets import Dataset, DataSpec
from runner.desired import Desired, Estimate
from runner.evals.gate import Promotion
from runner.evals.records import AliasRecord, EvalResult
from runner.evals.suite import Sampling, Suite
from runner.plan import Action, Mode, Plan, make_plan
from runner.remote import TAG_EXPERIMENT, TAG_TRAINING_HASH, TAG_WORKSPACE, RemoteJob, Snapshot
from runner.selection import Selection
from runner.spec import Experiment
from runner.state import ExperimentState, Run, State

CASES = Path(__file__).parent / "planner_cases"


def _inputs(version: str, lr: float = 1) -> dict[str, Any]:
    return {"model": "local/tiny", "lr": lr, "version": version}


def _suite(name: str, version: str) -> Suite:
    """A suite stands for its content: the same version, the same key (no cases are needed to plan)."""
    return Suite(name, f"evals/{name}.yaml", (), Sampling(), content_hash=f"content-{version}")


def _result(suite: str, r: dict[str, Any], model: str) -> EvalResult:
    if r.get("available") is False:
        return EvalResult(suite, _suite(suite, r["version"]).key, model, available=False, reason="cannot chat")
    cases, passed = r["cases"], r["passed"]
    return EvalResult(
        suite,
        _suite(suite, r["version"]).key,
        model,
        cases=cases,
        passed=passed,
        failed=cases - passed,
        pass_rate=passed / cases if cases else None,
    )


def _desired(name: str, d: dict[str, Any]) -> Desired:
    version = d["version"]
    data = Dataset("training", f"data/{name}.jsonl", Path(f"/nonexistent/{name}.jsonl"), f"sha-{version}", 100, 10)
    price = d.get("price", 0)
    exp = Experiment(name, f"experiments/{name}.yaml", "local/tiny", DataSpec(path=f"data/{name}.jsonl"))
    suites = tuple(_suite(s, v) for s, v in (d.get("suites") or {}).items())
    promote = Promotion(**d["promote"]) if "promote" in d else None
    return Desired(
        experiment=replace(
            exp,
            moved_from=d.get("moved_from"),
            lines={"moved_from": 3},
            evals=tuple(s.name for s in suites),
            promote=promote,
        ),
        suites=suites,
        training=data,
        validation=None,
        inputs=_inputs(version, d.get("lr", 1)),
        training_hash=f"hash-{version}",
        metadata={"description": d.get("meta", "m")},
        metadata_hash=f"meta-{d.get('meta', 'm')}",
        estimate=Estimate(epochs=3, billed_tokens=1000, usd=float(price)),
    )


def _state(doc: dict[str, Any]) -> State:
    state = State(lineage="lineage-1", target="local", serial=3)
    for t, (name, e) in enumerate(doc.items()):
        meta = e.get("meta", "m")
        aliases = {a: AliasRecord(job, since=1_700_000_500) for a, job in (e.get("aliases") or {}).items()}
        baselines = tuple(_result(s, b, "local/tiny") for s, b in (e.get("baselines") or {}).items())
        state = state.with_experiment(
            ExperimentState(name, f"meta-{meta}", {"description": meta}, aliases=aliases, baselines=baselines)
        )
        for i, r in enumerate(e["runs"]):
            run = Run(
                job_id=r["job"],
                training_hash=f"hash-{r['version']}",
                inputs=_inputs(r["version"], r.get("lr", 1)),
                status=r["status"],
                created_at=1_700_000_000 + 100 * t + i,
                fine_tuned_model=r.get("model"),
                evals=tuple(_result(s, x, r.get("model") or "") for s, x in (r.get("evals") or {}).items()),
            )
            state = state.with_run(name, run, current=r["job"] == e["current"])
    return state


def _snapshot(doc: dict[str, Any]) -> Snapshot:
    jobs = {
        job_id: RemoteJob(
            id=job_id,
            status=j["status"],
            model="local/tiny",
            created_at=1_700_000_000 + i,
            fine_tuned_model=j.get("model"),
            metadata={
                TAG_WORKSPACE: "ws",
                TAG_EXPERIMENT: j["experiment"],
                TAG_TRAINING_HASH: f"hash-{j['version']}",
            },
        )
        for i, (job_id, j) in enumerate((doc.get("jobs") or {}).items())
    }
    return Snapshot(jobs=jobs, gone=frozenset(doc.get("gone") or ()))


def plan_of(case: dict[str, Any]) -> Plan:
    options = case.get("options") or {}
    return make_plan(
        [_desired(name, d) for name, d in (case.get("desired") or {}).items()],
        _state(case.get("state") or {}),
        _snapshot(case.get("remote") or {}),
        target="local",
        endpoint="test",
        workspace="ws",
        retrain=frozenset(options.get("retrain") or ()),
        budget_max_usd=options.get("budget_max_usd"),
        mode=Mode(options.get("mode", "apply")),
        delete_models=bool(options.get("delete_models")),
        selection=Selection(("test",), (), tuple(sorted(options["select"]))) if "select" in options else None,
    )


@pytest.mark.parametrize("path", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_planner_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    expect = case["expect"]
    plan = plan_of(case)
    others = (Action.DELETE_MODEL, Action.MOVE, Action.EVALUATE, Action.PROMOTE)
    changes = {c.experiment: c for c in plan.changes if c.action not in others}
    moves = sorted([c.moved_from, c.experiment] for c in plan.changes if c.action is Action.MOVE)
    assert moves == sorted(expect.get("moves") or []), moves
    assert set(changes) == set(expect["changes"]), case["description"]
    for name, want in expect["changes"].items():
        got = changes[name]
        assert got.action == Action(want["action"]), f"{name}: {got.action} ({got.reason})"
        for key in ("job_id", "supersedes"):
            if key in want:
                assert getattr(got, key) == want[key], f"{name}.{key}"
        if "fields" in want:
            assert [f.path for f in got.fields] == want["fields"]
        if "reason_contains" in want:
            assert want["reason_contains"] in got.reason, got.reason
        if "notes_contain" in want:
            assert any(want["notes_contain"] in n for n in got.notes), got.notes
    evaluate: dict[str, list[dict[str, Any]]] = {}
    for c in plan.changes:
        if c.evaluate is not None:
            on = [f"{s.role} {s.job_id or s.model or 'new model'}" for s in c.evaluate.subjects]
            evaluate.setdefault(c.experiment, []).append({"suite": c.evaluate.suite, "subjects": on})
    assert evaluate == (expect.get("evaluate") or {}), evaluate
    promote = {c.experiment: c.promote for c in plan.changes if c.promote is not None}
    assert set(promote) == set(expect.get("promote") or {}), promote
    for name, want in (expect.get("promote") or {}).items():
        step = promote[name]
        for key, value in want.items():
            assert getattr(step, key) == value, f"{name}.promote.{key}: {getattr(step, key)!r}"
    deleted = sorted(c.model or "" for c in plan.changes if c.action is Action.DELETE_MODEL)
    assert deleted == sorted(expect.get("models_deleted") or [])
    if "drift" in expect:
        assert sorted([d.experiment, d.job_id, d.remote_status] for d in plan.drift) == sorted(expect["drift"])
    errors = sorted(d.check or "" for d in plan.diagnostics if d.severity == "error")
    assert errors == sorted(expect.get("errors") or [])
    if "has_changes" in expect:
        assert plan.has_changes is expect["has_changes"]
    if "new_spend_usd" in expect:
        assert plan.new_spend_usd == expect["new_spend_usd"]
    # Every plan is pure: the same inputs give the same document.
    assert plan_of(case).to_dict() == plan.to_dict()
