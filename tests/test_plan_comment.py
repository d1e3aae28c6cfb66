"""`plan --markdown`: the pull-request comment a reviewer decides from (verdict, data delta, budget, marker)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fakes import FakeProvider

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import cli
from runner.data_delta import data_deltas
from runner.plan import make_plan
from runner.state import StateStore
from runner.views.plan import plan_markdown
from runner.workspace import load_workspace


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--no-color", *args])
    return result.exit_code, result.output


def _comment(root: Path, remote: FakeProvider) -> str:
    ws = load_workspace(root)
    store = StateStore(ws.state_path(ws.target()))
    loaded = pipeline.load(ws, ws.target())
    state = store.load_or_new("local")
    p = make_plan(
        loaded.desired,
        state,
        pipeline.snapshot(remote, state, ws),
        target="local",
        endpoint="built-in server (in-process)",
        workspace=ws.name,
        budget_max_usd=ws.budget_max_usd,
        diagnostics=loaded.diagnostics,
    )
    return plan_markdown(p, data_deltas(loaded.desired, state))


def _apply(root: Path, remote: FakeProvider) -> None:
    ws = load_workspace(root)
    store = StateStore(ws.state_path(ws.target()))
    loaded = pipeline.load(ws, ws.target())
    state = store.load_or_new("local")
    p = make_plan(
        loaded.desired,
        state,
        pipeline.snapshot(remote, state, ws),
        target="local",
        endpoint="built-in server (in-process)",
        workspace=ws.name,
    )
    desired = {d.experiment.name: d for d in loaded.desired}
    Applier(store, remote, ws.name, desired, Silent(), state).apply(p)


def test_one_example_added_to_marv_is_named_as_a_data_delta(example_workspace: Path) -> None:
    remote = FakeProvider()
    first = _comment(example_workspace, remote)
    assert first.startswith(("✅ **ftrun plan: ready**", "⚠ **ftrun plan: ready, with"))
    assert "| `+` | `marv` | create | new experiment | `local/tiny` | `data/marv.jsonl`: " in first
    assert "**Budget:** new spending **$0.00**" in first and "within the budget of $25.00" in first
    assert first.rstrip().endswith("<!-- ftrun-plan: ftrun-examples/local -->")
    assert "<details><summary>Full plan</summary>" in first and "ftrun will perform these actions" in first
    _apply(example_workspace, remote)

    marv = example_workspace / "data" / "marv.jsonl"
    line = {
        "messages": [
            {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
            {"role": "user", "content": "What is the boiling point of water?"},
            {"role": "assistant", "content": "100 °C at sea level. Groundbreaking, I know."},
        ]
    }
    marv.write_text(marv.read_text(encoding="utf-8") + json.dumps(line) + "\n", encoding="utf-8")
    md = _comment(example_workspace, remote)
    [row] = [r for r in md.splitlines() if r.startswith("| `-/+` | `marv` |")]
    assert "training_file changed" in row and "(+1 example, +" in row and " tokens)" in row
    assert "sha256" not in row  # names the file and the delta, not hashes
    assert "marv-quick" in md  # it trains on marv.jsonl too
    assert md.count("<!-- ftrun-plan: ") == 1


def test_an_unchanged_workspace_says_no_changes(example_workspace: Path) -> None:
    remote = FakeProvider()
    _apply(example_workspace, remote)
    md = _comment(example_workspace, remote)
    assert md.splitlines()[0] in ("✅ **ftrun plan: ready**: no changes.",) or md.startswith("⚠")
    assert "No changes: the experiments match the state of target `local`." in md
    assert "**To apply:** nothing to do." in md


def test_over_budget_plan_starts_with_a_cross(example_workspace: Path) -> None:
    yaml = example_workspace / "ftrun.yaml"
    yaml.write_text(yaml.read_text().replace("max_usd: 25", "max_usd: 0.000001") + "prices:\n  local/tiny: 1000\n")
    local = "  local:\n    kind: local\n"
    yaml.write_text(yaml.read_text().replace(local, local + "    free: false\n"))
    code, out = run("-C", str(example_workspace), "plan", "--markdown")
    assert code == 1, out
    assert out.startswith("❌ **ftrun plan: over budget**"), out
    assert "`over-budget` `ftrun.yaml`: this plan would spend" in out and "over the budget of" in out


def test_a_plan_with_an_error_is_still_a_comment_starting_with_a_cross(example_workspace: Path) -> None:
    (example_workspace / "experiments" / "marv.yaml").write_text("training_file: data/marv.jsonl\nn_epochs: 3\n")
    code, out = run("-C", str(example_workspace), "plan", "--markdown")
    assert code == 1
    assert out.startswith("❌ **ftrun plan: "), out
    assert "experiments/marv.yaml:2" in out  # file and line of what to fix
    assert "<!-- ftrun-plan: ftrun-examples/local -->" in out


def test_plan_markdown_from_the_command_line(example_workspace: Path) -> None:
    code, out = run("-C", str(example_workspace), "plan", "--markdown")
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith(("✅", "⚠")) and "to create" in first
    assert "<!-- ftrun-plan: ftrun-examples/local -->" in out and "**To apply:**" in out


def test_state_from_before_data_counts_were_kept_shows_no_delta(example_workspace: Path) -> None:
    remote = FakeProvider()
    _apply(example_workspace, remote)
    path = example_workspace / "state" / "local.json"
    doc = json.loads(path.read_text())
    for e in doc["experiments"].values():
        for r in e["runs"]:
            del r["examples"], r["data_tokens"]  # as an older ftrun wrote it
    path.write_text(json.dumps(doc))
    marv = example_workspace / "data" / "marv.jsonl"
    marv.write_text(marv.read_text(encoding="utf-8") + marv.read_text(encoding="utf-8").splitlines()[0] + "\n")
    md = _comment(example_workspace, remote)
    [row] = [r for r in md.splitlines() if r.startswith("| `-/+` | `marv` |")]
    assert "`data/marv.jsonl`: 17 examples, " in row and "(+" not in row and "no change" not in row
