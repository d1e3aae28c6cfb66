"""A second `validate` or `plan` does only what changed: a spec that passed its schema is not checked again, eval
cases are read back from the data cache, and the local target is read without the SDK or the web framework. What
changed is still checked, so a cached pass never hides a new mistake."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest
from processes import ftrun, ok
from workspaces import Workspace

from runner.evals.suite import load_suites
from runner.schemacheck import violations
from runner.spec import load_experiments
from runner.workspace import load_workspace

# Run one command in a fresh interpreter and report the top-level packages it imported.
_IMPORTED = """
import json, sys
from runner.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def imported_by(ws: Path, *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED, "-C", str(ws), *args], capture_output=True, text=True, timeout=300
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_a_warm_run_loads_only_what_it_needs(example_workspace: Path) -> None:
    ok(ftrun(example_workspace, "validate"))  # fills the caches: schema passes, rendered data and cases
    validate = imported_by(example_workspace, "validate")
    assert not validate & {"jsonschema", "jinja2", "openai", "flask", "httpx2"}, validate
    plan = imported_by(example_workspace, "plan")
    assert "sqlite3" in plan  # the plan reads the in-process server's store, through the server's own reads
    assert not plan & {"jsonschema", "openai", "flask", "werkzeug", "jinja2", "huggingface_hub"}, plan


def test_a_changed_spec_is_checked_again(workspace: Workspace) -> None:
    ws = load_workspace(workspace.root)
    experiments, diags = load_experiments(ws)
    assert not diags and {e.name for e in experiments} == {"alpha", "beta"}
    assert list((ws.cache_dir / "schema").rglob("*")), "passes are remembered"
    # The same text, now a string where the schema wants an integer: a value that looks the same is not the same.
    workspace.experiment("beta", 'description: second\ntraining_file: data/train.jsonl\nseed: "1"\n')
    _, diags = load_experiments(ws)
    assert [(d.file, d.line, d.check) for d in diags] == [("experiments/beta.yaml", 3, "wrong-type")]
    workspace.experiment("beta", "description: second\ntraining_file: data/train.jsonl\nseed: 1\n")
    assert load_experiments(ws)[1] == []


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [("seed", 1, "1"), ("seed", 1, True), ("seed", 1, 1.5), ("description", "2026-01-01", datetime.date(2026, 1, 1))],
)
def test_a_remembered_pass_is_never_shared_by_a_different_value(
    field: str, good: object, bad: object, tmp_path: Path
) -> None:
    """Values a schema tells apart (an integer from its text, from a boolean or from a float, a date from its text)
    never share a remembered pass, however alike they print."""
    assert violations({"cases": "evals/x.jsonl", field: good}, "suite", cache_dir=tmp_path) == []
    assert violations({"cases": "evals/x.jsonl", field: good}, "suite", cache_dir=tmp_path) == []  # remembered
    assert violations({"cases": "evals/x.jsonl", field: bad}, "suite", cache_dir=tmp_path) != []


def test_changed_eval_cases_are_read_again(example_workspace: Path) -> None:
    ok(ftrun(example_workspace, "validate"))
    source = example_workspace / "data" / "marv.jsonl"
    first = json.loads(source.read_text(encoding="utf-8").splitlines()[0])
    first["messages"][1]["content"] = "What is the capital of Atlantis?"
    lines = source.read_text(encoding="utf-8").splitlines()
    source.write_text("\n".join([json.dumps(first, ensure_ascii=False), *lines[1:]]) + "\n", encoding="utf-8")
    suites, diags = load_suites(load_workspace(example_workspace), ["marv-answers"])
    assert not diags
    assert any("Atlantis" in case.label for case in suites["marv-answers"].cases)
