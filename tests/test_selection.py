"""Selection: --select/-s and --exclude on plan, apply, status, show and destroy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from workspaces import Workspace

from runner.cli import cli
from runner.diagnostics import FtrunError
from runner.plan import Action
from runner.selection import Candidate, candidates_of, select

CANDIDATES = [
    Candidate("marv", ("example", "chat")),
    Candidate("marv-quick", ("example",)),
    Candidate("faq", ("example", "template")),
    Candidate("alice", ("example", "template")),
    Candidate("base"),
    Candidate("sweep-seed-1", sweep="sweep"),
    Candidate("sweep-seed-2", sweep="sweep"),
]


def chosen(*selectors: str, exclude: tuple[str, ...] = (), upstream=None) -> list[str]:  # type: ignore[no-untyped-def]
    sel = select(selectors, exclude, CANDIDATES, *([upstream] if upstream else []))
    assert sel is not None
    return list(sel.names)


def test_names_globs_labels_are_a_union_and_exclude_subtracts() -> None:
    assert chosen("marv") == ["marv"]
    assert chosen("marv*") == ["marv", "marv-quick"]
    assert chosen("label:template") == ["alice", "faq"]
    assert chosen("label:template", "marv") == ["alice", "faq", "marv"]
    assert chosen("label:example", exclude=("marv*",)) == ["alice", "faq"]
    assert chosen(exclude=("label:example", "sweep")) == ["base"]
    assert chosen("sweep") == chosen("sweep*") == ["sweep-seed-1", "sweep-seed-2"]  # a matrix's name: every variant
    assert select((), (), CANDIDATES) is None


def test_a_selector_matching_nothing_is_an_error_naming_it() -> None:
    with pytest.raises(FtrunError, match="'sarcastic', 'label:nope'"):
        select(("marv", "sarcastic", "label:nope"), (), CANDIDATES)
    with pytest.raises(FtrunError, match="'zzz'"):
        select(("marv",), ("zzz",), CANDIDATES)
    with pytest.raises(FtrunError, match="leaves no experiment"):
        select(("marv",), ("marv",), CANDIDATES)


def test_a_rename_is_selected_under_either_name() -> None:
    found = [Candidate("sarcastic", moved_from="marv"), Candidate("marv"), Candidate("faq")]
    for name in ("marv", "sarcastic"):
        sel = select((name,), (), found)
        assert sel is not None and sel.names == ("marv", "sarcastic")


def test_chains_follow_the_dependency_function() -> None:
    builds_on = {"marv": ("base",), "marv-quick": ("marv",)}

    def upstream(name: str) -> tuple[str, ...]:
        return builds_on.get(name, ())

    assert chosen("+marv-quick", upstream=upstream) == ["base", "marv", "marv-quick"]
    assert chosen("base+", upstream=upstream) == ["base", "marv", "marv-quick"]
    assert chosen("marv+", upstream=upstream) == ["marv", "marv-quick"]
    assert chosen("+marv") == ["marv"]  # no chains today: the experiment alone


def test_state_only_experiments_are_selectable_by_their_recorded_labels() -> None:
    found = candidates_of([Candidate("marv", ("chat",))], {"old": {"labels": ["chat"]}, "marv": {"labels": []}})
    assert [(c.name, c.labels) for c in found] == [("marv", ("chat",)), ("old", ("chat",))]


def run(ws: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(ws), "--no-color", *args])
    return result.exit_code, result.output


def test_plan_select_on_the_example_workspace(example_workspace: Path) -> None:
    code, out = run(example_workspace, "plan", "-s", "marv")
    assert code == 0, out
    assert "Selected (-s marv): marv. Other experiments are left as they are." in out
    assert "Plan: 1 to create" in out and '"marv-quick"' not in out
    code, out = run(example_workspace, "plan", "-s", "label:template", "--json")
    doc = json.loads(out)
    assert sorted(c["experiment"] for c in doc["changes"]) == ["alice", "faq"]
    assert doc["selection"] == {"selectors": ["label:template"], "excludes": [], "names": ["alice", "faq"]}
    code, out = run(example_workspace, "plan", "--markdown", "-s", "marv*", "--exclude", "marv")
    assert code == 0 and "Selected (-s marv* --exclude marv): marv-quick." in out
    code, out = run(example_workspace, "plan", "-s", "sarcastic")
    assert code == 1 and "no experiment matches 'sarcastic'" in out


def test_apply_select_applies_only_the_selection_and_never_forgets_the_others(workspace: Workspace) -> None:
    ws = workspace.root
    try:
        code, out = run(ws, "apply", "--auto-approve", "-s", "alpha")
        assert code == 0, out
        state = json.loads((ws / "state" / "local.json").read_text())
        assert list(state["experiments"]) == ["alpha"]
        code, out = run(ws, "plan", "-s", "alpha", "--detailed-exitcode")
        assert code == 0 and "No changes." in out, out
        code, out = run(ws, "plan", "--json")
        assert [(c["experiment"], c["action"]) for c in json.loads(out)["changes"]] == [
            ("alpha", "no-op"),
            ("beta", "create"),
        ]

        # alpha's spec goes: a plan selecting beta leaves alpha alone; a saved selected plan applies only beta.
        (ws / "experiments" / "alpha.yaml").unlink()
        code, out = run(ws, "plan", "-s", "beta", "--out", str(ws / "beta.plan"))
        assert code == 0 and "alpha" not in out.replace("Selected (-s beta)", ""), out
        code, out = run(ws, "apply", str(ws / "beta.plan"), "-s", "alpha")
        assert code == 1 and "drop --select" in out
        code, out = run(ws, "apply", str(ws / "beta.plan"))
        assert code == 0, out
        state = json.loads((ws / "state" / "local.json").read_text())
        assert sorted(state["experiments"]) == ["alpha", "beta"]

        code, out = run(ws, "status", "-s", "beta", "--json")
        assert [e["experiment"] for e in json.loads(out)["experiments"]] == ["beta"]
        code, out = run(ws, "show", "-s", "*", "--offline", "--json")
        assert [d["experiment"] for d in json.loads(out)["experiments"]] == ["alpha", "beta"]

        code, out = run(ws, "destroy", "--auto-approve", "-s", "beta")
        assert code == 0, out
        state = json.loads((ws / "state" / "local.json").read_text())
        assert list(state["experiments"]) == ["alpha"]
    finally:
        run(ws, "destroy", "--auto-approve")


def test_report_takes_the_selection_too(workspace: Workspace, tmp_path: Path) -> None:
    code, out = run(workspace.root, "report", "--offline", "-s", "alp*", "-o", str(tmp_path / "r.html"))
    assert code == 0 and "(1 experiment(s))" in out, out
    code, out = run(workspace.root, "report", "--offline", "-o", str(tmp_path / "r.html"))
    assert code == 0 and "(2 experiment(s))" in out, out
    code, out = run(workspace.root, "report", "--offline", "-s", "label:nope")
    assert code == 1 and "no experiment matches 'label:nope'" in out


NAMES = st.sampled_from(["a", "b", "c", "d", "e"])


@settings(max_examples=60, deadline=None)
@given(specs=st.sets(NAMES), recorded=st.sets(NAMES), chosen=st.sets(NAMES, min_size=1))
def test_a_selected_plan_touches_exactly_the_selection(specs: set[str], recorded: set[str], chosen: set[str]) -> None:
    from test_planner_cases import plan_of

    case = {
        "desired": {n: {"version": "v2"} for n in specs},
        "state": {
            n: {"current": f"job-{n}", "runs": [{"job": f"job-{n}", "version": "v1", "status": "running"}]}
            for n in recorded
        },
        "remote": {"jobs": {f"job-{n}": {"experiment": n, "version": "v1", "status": "running"} for n in recorded}},
        "options": {"select": sorted(chosen)},
    }
    plan = plan_of(case)
    touched = {c.experiment for c in plan.changes}
    assert touched == (specs | recorded) & chosen
    for c in plan.changes:
        if c.experiment not in specs:
            assert c.action in (Action.CANCEL, Action.FORGET)  # its spec is gone, and it was selected


def test_eval_takes_the_selection_too(workspace: Workspace) -> None:
    case = {"messages": [{"role": "user", "content": "q?"}], "assert": [{"type": "contains", "value": "a"}]}
    workspace.write("evals/answers.yaml", "cases: evals/cases.jsonl\n")
    workspace.write("evals/cases.jsonl", json.dumps(case) + "\n")
    workspace.experiment("alpha", "training_file: data/train.jsonl\nevals: [answers]\n")
    code, out = run(workspace.root, "eval", "-s", "beta")  # beta has no suites: nothing to evaluate
    assert code == 0 and "No experiment lists eval suites" in out, out
    code, out = run(workspace.root, "eval", "-s", "label:nope")
    assert code == 1 and "no experiment matches 'label:nope'" in out
