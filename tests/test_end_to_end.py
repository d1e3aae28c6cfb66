"""The whole path for real: the `ftrun` program, the openai SDK, the built-in server, and real training.

These run the example workspace's experiments on the `local` target (in-process server, detached trainer) and on a
standalone `ftrun serve` over a loopback socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from openai import OpenAI
from processes import FTRUN, ftrun, ok, serving

from runner.server import create_app

pytestmark = [pytest.mark.training, pytest.mark.slow]

QUESTION = "What's the capital of France?"
ANSWER = "Paris, as if everyone doesn't know that already."


@pytest.fixture
def example(example_workspace: Path) -> Iterator[Path]:
    yield example_workspace
    # Stop anything still training so it does not compete with the next test for the CPU.
    ftrun(example_workspace, "destroy", "--auto-approve", timeout=120)


def local_client(ws: Path) -> OpenAI:
    app = create_app(ws / ".ftrun" / "server", start_worker=False)
    return OpenAI(
        base_url="http://local.invalid/v1",
        api_key="x",
        http_client=httpx2.Client(transport=httpx2.WSGITransport(app=app)),
    )


def test_example_workspace_end_to_end(example: Path) -> None:
    out = ok(ftrun(example, "plan"))
    assert "Plan: 5 to create" in out and "Uploads: 5 file(s)" in out  # marv and marv-quick share one file
    assert ftrun(example, "plan", "--detailed-exitcode").returncode == 2

    out = ok(ftrun(example, "apply", "--auto-approve", "--wait"))
    assert "Apply complete!" in out
    assert "marv: succeeded" in out or "✓ marv:" in out

    # Right after apply, nothing changes.
    result = ftrun(example, "plan", "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes." in result.stdout

    # marv and marv-quick share one data file: it was uploaded once (faq's split makes two files, alice and lin one).
    state = json.loads((example / "state" / "local.json").read_text())
    assert len(state["files"]) == 5
    client = local_client(example)
    uploaded = [f.filename for f in client.files.list(purpose="fine-tune")]
    assert len(uploaded) == 5 and len([n for n in uploaded if n.startswith("marv.")]) == 1
    jobs = list(client.fine_tuning.jobs.list())
    assert len(jobs) == 5 and {j.status for j in jobs} == {"succeeded"}

    model = ok(ftrun(example, "output", "marv")).strip()
    assert model.startswith("ft:") and "marv" in model
    # apply --wait evaluated marv and marv-quick on their suite, and promoted marv to prod through its gate.
    assert ok(ftrun(example, "output", "marv@prod")).strip() == model
    evals = {r["experiment"]: r for r in json.loads(ok(ftrun(example, "eval", "--json")))["evals"]}
    assert evals["marv"]["candidate"]["pass_rate"] >= 0.6 > evals["marv-quick"]["candidate"]["pass_rate"]  # the gate
    assert ok(ftrun(example, "chat", "marv", QUESTION)).strip() == ANSWER

    status = json.loads(ok(ftrun(example, "status", "--json")))
    assert {e["experiment"]: e["status"] for e in status["experiments"]} == dict.fromkeys(
        ("alice", "faq", "lin", "marv", "marv-quick"), "succeeded"
    )

    # A hyperparameter change plans a retrain naming it; a description change only updates state.
    spec = example / "experiments" / "marv-quick.yaml"
    spec.write_text(spec.read_text().replace("n_epochs: 3", "n_epochs: 4"))
    desc = example / "experiments" / "marv.yaml"
    desc.write_text(desc.read_text().replace("description: Factual", "description: Truthful"))
    out = ok(ftrun(example, "plan", "--json"))
    training = ("evaluate", "promote")  # the retrained model's evals come after it, as changes of their own
    changes = {c["experiment"]: c for c in json.loads(out)["changes"] if c["action"] not in training}
    assert changes["marv-quick"]["action"] == "retrain"
    assert [f["path"] for f in changes["marv-quick"]["fields"]] == ["method.hyperparameters.n_epochs"]
    assert changes["marv"]["action"] == "update-state"
    assert [f["path"] for f in changes["marv"]["fields"]] == ["description"]

    # Removing a spec forgets it and keeps its model.
    spec.unlink()
    out = ok(ftrun(example, "plan"))
    assert "marv-quick will be forgotten" in out
    ok(ftrun(example, "apply", "--auto-approve"))
    assert model in {m.id for m in client.models.list()}
    quick_models = [j.fine_tuned_model for j in client.fine_tuning.jobs.list() if "quick" in (j.fine_tuned_model or "")]
    assert quick_models and quick_models[0] in {m.id for m in client.models.list()}


def only_marv(example: Path) -> None:
    for name in ("marv-quick", "faq", "alice", "lin"):
        (example / "experiments" / f"{name}.yaml").unlink()


def test_apply_killed_after_the_server_accepted_a_job_is_adopted(example: Path) -> None:
    only_marv(example)
    proc = subprocess.Popen(
        [*FTRUN, "-C", str(example), "apply", "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "FTRUN_FAILPOINTS": "job-created"},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "failpoint job-created reached" in line or not line:
            break
    assert "failpoint job-created reached" in line, line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()

    state = json.loads((example / "state" / "local.json").read_text())
    assert state["experiments"] == {}  # the job was never recorded
    assert len(state["files"]) == 1  # the upload was
    client = local_client(example)
    assert len(list(client.fine_tuning.jobs.list())) == 1

    out = ok(ftrun(example, "plan"))
    assert "will adopt an existing job" in out
    # The killed apply's lock is still there; its holder is provably dead, so the next apply takes it over and says so.
    result = ftrun(example, "apply", "--auto-approve", "--wait")
    out = ok(result)
    assert f"took over the state lock left by pid {proc.pid}" in result.stderr
    assert "adopted job" in out and "1 adopted" in out and "0 created" in out
    jobs = list(client.fine_tuning.jobs.list())
    assert len(jobs) == 1 and jobs[0].status == "succeeded"
    assert len(list(client.files.list(purpose="fine-tune"))) == 1  # one upload (results files aside)
    assert ftrun(example, "plan", "--detailed-exitcode").returncode == 0


def test_over_a_loopback_socket_with_ftrun_serve(example: Path, tmp_path: Path) -> None:
    only_marv(example)
    key = "test-key-for-this-run"
    env = {"FTRUN_SERVER_API_KEY": key}
    with serving(tmp_path / "server", key) as url:
        ftrun_yaml = example / "ftrun.yaml"
        ftrun_yaml.write_text(ftrun_yaml.read_text().replace("http://127.0.0.1:9527/v1", url))
        try:
            assert "FTRUN_SERVER_API_KEY" not in ok(ftrun(example, "-t", "serve", "plan", env=env))
            out = ok(ftrun(example, "-t", "serve", "apply", "--auto-approve", "--wait", env=env))
            assert "created job" in out
            assert ok(ftrun(example, "-t", "serve", "chat", "marv", QUESTION, env=env)).strip() == ANSWER
            assert ftrun(example, "-t", "serve", "plan", "--detailed-exitcode", env=env).returncode == 0
            assert key not in (example / "state" / "serve.json").read_text()
            bad = ftrun(example, "-t", "serve", "plan", env={"FTRUN_SERVER_API_KEY": "wrong"})
            assert bad.returncode == 1 and "rejected the API key" in bad.stderr + bad.stdout
            missing = ftrun(example, "-t", "serve", "plan", env={"FTRUN_SERVER_API_KEY": ""})
            assert missing.returncode == 1 and "FTRUN_SERVER_API_KEY" in missing.stderr + missing.stdout
        finally:
            ftrun(example, "-t", "serve", "destroy", "--auto-approve", env=env, timeout=60)


def test_a_program_using_only_the_openai_sdk_works_against_ftrun_serve(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    with serving(tmp_path / "server") as url:
        result = subprocess.run(
            [
                sys.executable,
                str(root / "examples" / "sdk_client.py"),
                str(root / "data" / "marv.jsonl"),
                "--model",
                "local/tiny",
                "--question",
                QUESTION,
                "--system",
                "Marv is a factual chatbot that is also sarcastic.",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "unused"},
        )
    out = ok(result)
    assert "succeeded" in out and "checkpoint step" in out
    assert "columns step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy" in out
    answers = [line for line in out.splitlines() if " answers: " in line]
    assert len(answers) == 2 and all(line.endswith(ANSWER) for line in answers), out
    assert ":ckpt-step-" in answers[1]
    assert "deleted ft:" in out and ": True" in out


def test_a_hugging_face_model_directory_in_the_workspace_is_fine_tuned_with_lora(example: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
    from training_support import build_hf_model_dir

    only_marv(example)
    texts = [
        m["content"]
        for line in (example / "data" / "marv.jsonl").read_text().splitlines()
        for m in json.loads(line)["messages"]
    ]
    build_hf_model_dir(example / "models" / "tiny-hf", texts)
    (example / "experiments" / "marv.yaml").write_text(
        "model: models/tiny-hf\ntraining_file: data/marv.jsonl\n"
        "method:\n  type: supervised\n  hyperparameters: {lora: true, lora_r: 8, n_epochs: 2}\n"
    )
    out = ok(ftrun(example, "plan"))
    assert '+ model         = "models/tiny-hf"' in out and "lora=True" in out
    out = ok(ftrun(example, "apply", "--auto-approve", "--wait"))
    assert "✓ marv: ft:tiny-hf:personal:marv:" in out
    assert ok(ftrun(example, "chat", "marv", QUESTION, "--max-tokens", "8")).strip()
    state = json.loads((example / "state" / "local.json").read_text())
    assert state["experiments"]["marv"]["runs"][0]["inputs"]["model"] == "models/tiny-hf"  # as written, not absolute
