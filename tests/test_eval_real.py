"""Evals for real: the `ftrun` program, the openai SDK and the built-in server, scoring models trained on the tiny
preset. A suite edit re-evaluates without retraining; a retrain that regresses leaves prod where it is, shown as
blocked with its figures; one that passes moves it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import ftrun, ok

pytestmark = [pytest.mark.training, pytest.mark.slow]


@pytest.fixture
def marv(example_workspace: Path) -> Iterator[Path]:
    for name in ("faq", "alice", "lin"):
        (example_workspace / "experiments" / f"{name}.yaml").unlink()
    yield example_workspace
    ftrun(example_workspace, "destroy", "--auto-approve", timeout=120)


def plan_actions(ws: Path) -> list[tuple[str, str]]:
    doc = json.loads(ok(ftrun(ws, "plan", "--json")))
    return sorted((c["experiment"], c["action"]) for c in doc["changes"] if c["action"] != "no-op")


def rates(ws: Path) -> dict[str, float]:
    doc = json.loads(ok(ftrun(ws, "eval", "--json")))
    return {r["experiment"]: r["candidate"]["pass_rate"] for r in doc["evals"]}


def test_suites_score_real_models_and_the_gate_moves_prod_only_when_it_passes(marv: Path) -> None:
    out = ok(ftrun(marv, "apply", "--auto-approve", "--wait"))
    assert "marv@prod -> job" in out and "Evaluation complete!" in out
    first = rates(marv)
    assert first["marv"] >= 0.6 > first["marv-quick"]  # marv passes its gate, marv-quick would not
    prod = ok(ftrun(marv, "output", "marv@prod")).strip()
    assert prod == ok(ftrun(marv, "output", "marv")).strip()
    assert ftrun(marv, "plan", "--detailed-exitcode").returncode == 0
    status = {e["experiment"]: e for e in json.loads(ok(ftrun(marv, "status", "--json")))["experiments"]}
    assert status["marv"]["evals"] == {"marv-answers": first["marv"]} and "aliases" not in status["marv-quick"]
    assert [(a["alias"], a["job_id"]) for a in status["marv"]["aliases"]] == [("prod", status["marv"]["job_id"])]

    # Editing a case re-evaluates both experiments that use the suite, and trains nothing.
    cases = marv / "evals" / "marv-heldout.jsonl"
    cases.write_text(cases.read_text(encoding="utf-8").replace("Everest", "Everest, Mount", 1), encoding="utf-8")
    assert plan_actions(marv) == [("marv", "evaluate"), ("marv-quick", "evaluate")]
    out = ok(ftrun(marv, "apply", "--auto-approve", "--wait"))
    assert "0 created, 0 retrained" in out
    assert ftrun(marv, "plan", "--detailed-exitcode").returncode == 0

    # A judge that answers nonsense (marv-quick, asked for a score) makes each case an error; the apply completes.
    judge = ok(ftrun(marv, "output", "marv-quick")).strip()
    (marv / "evals" / "judged.yaml").write_text(
        "cases: evals/marv-heldout.jsonl\n"
        f"assert:\n  - {{type: judge, judge: {{model: '{judge}', rubric: Sarcastic and right.}}}}\n"
    )
    spec = marv / "experiments" / "marv.yaml"
    spec.write_text(spec.read_text().replace("evals: [marv-answers]", "evals: [marv-answers, judged]"))
    assert plan_actions(marv) == [("marv", "evaluate")]
    ok(ftrun(marv, "apply", "--auto-approve", "--wait"))
    judged = next(r for r in json.loads(ok(ftrun(marv, "eval", "--json")))["evals"] if r["suite"] == "judged")
    assert judged["candidate"]["errors"] == judged["candidate"]["cases"] == 4
    assert judged["candidate"]["pass_rate"] is None

    # A retrain on two epochs regresses: prod stays on the earlier model, and the pull request says why.
    spec.write_text(spec.read_text().replace("n_epochs: auto", "n_epochs: 2"))
    ok(ftrun(marv, "apply", "--auto-approve", "--wait"))
    assert ok(ftrun(marv, "output", "marv@prod")).strip() == prod
    assert ok(ftrun(marv, "output", "marv")).strip() != prod
    markdown = ok(ftrun(marv, "plan", "--markdown"))
    assert "**blocked**" in markdown and re.search(r"< 0\.\d+; prod holds 0\.\d+", markdown)
    assert "pass → fail" in markdown  # the cases that flipped, listed in a collapsed block

    # Back to the full recipe, trained again: it passes the gate and prod moves to it.
    spec.write_text(spec.read_text().replace("n_epochs: 2", "n_epochs: auto"))
    out = ok(ftrun(marv, "apply", "--auto-approve", "--wait", "--retrain", "marv"))
    assert "marv@prod -> job" in out
    newest = ok(ftrun(marv, "output", "marv")).strip()
    assert newest not in (prod,) and ok(ftrun(marv, "output", "marv@prod")).strip() == newest
