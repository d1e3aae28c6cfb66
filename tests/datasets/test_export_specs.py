"""Chat-export sources in experiment specs: schema checks with "did you mean", the example workspace's WeChat
experiment, and bad exports stopping everything with one error at file and line."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

from click.testing import CliRunner

from runner.cli import cli
from runner.datasets import DataSpec, prepare, render_bytes

REPO = Path(__file__).resolve().parents[2]


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--no-color", "-C", str(root), *args])
    return result.exit_code, result.output


def workspace(tmp_path: Path, source: str, files: dict[str, bytes]) -> Path:
    root = tmp_path / "ws"
    (root / "experiments").mkdir(parents=True)
    (root / "ftrun.yaml").write_text("workspace: t\ndefaults: {model: local/tiny, seed: 1}\n")
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "experiments" / "chat.yaml").write_text(f"training_file:\n  source: {source}\n", encoding="utf-8")
    return root


def test_source_options_are_schema_checked(tmp_path: Path) -> None:
    export = (REPO / "data" / "wechat_export.csv").read_bytes()
    cases = [
        ("{path: data/w.csv, format: wechat, sesion_gap_minutes: 30}", "did you mean 'session_gap_minutes'?"),
        ("{path: data/w.csv, format: wechatt}", "did you mean 'wechat'?"),
        ("{path: data/w.csv, format: wechat, scrub: [emial]}", "did you mean 'email'?"),
        ("{path: data/w.csv, format: whatsapp}", "'me' is a required property"),
        ("{path: data/w.csv, format: whatsapp, me: a, date_order: dmy}", "is not one of auto, day_first"),
        ("{path: data/w.csv, format: alpaca, me: a}", "unknown key 'me'"),
    ]
    for i, (source, words) in enumerate(cases):
        root = workspace(tmp_path / str(i), source, {"data/w.csv": export})
        code, out = run(root, "validate")
        assert code == 1 and "experiments/chat.yaml:2: " in out and words in out, (source, out)


def test_example_wechat_export_is_what_the_script_writes() -> None:
    spec = importlib.util.spec_from_file_location("wechat_example", REPO / "scripts" / "wechat_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    buf = io.StringIO(newline="")
    module.write(buf)
    assert (REPO / "data" / "wechat_export.csv").read_text(encoding="utf-8") == buf.getvalue(), (
        "data/wechat_export.csv is stale: run python scripts/wechat_example.py"
    )


def test_example_experiment_trains_on_scrubbed_conversations(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "wechat_export.csv").write_bytes((REPO / "data" / "wechat_export.csv").read_bytes())
    spec = DataSpec(
        source={"path": "data/wechat_export.csv", "format": "wechat", "me": "林晓", "session_gap_minutes": 30},
        vars={"system": "你是林晓。"},
    )
    prepared = prepare(
        spec, None, root=tmp_path, cache_dir=tmp_path / ".c", experiment="lin", model="local/tiny", method="supervised"
    )
    found = {d.check: d.message for d in prepared.diagnostics}
    assert {str(d.severity) for d in prepared.diagnostics} == {"info"}
    assert found["scrubbed_phone"].startswith("1 phone") and found["scrubbed_secret"].startswith("1 secret")
    assert found["skipped_media"].startswith("5 message(s)") and "skipped_after_last_reply" in found
    assert prepared.training is not None and prepared.training.examples == 16
    rendered = render_bytes(spec, tmp_path).decode()
    assert "13912345678" not in rendered and "Spring2024!" not in rendered
    examples = [json.loads(x) for x in rendered.splitlines()]
    assert all(e["messages"][0] == {"role": "system", "content": "你是林晓。"} for e in examples)
    assert all(e["messages"][-1]["role"] == "assistant" for e in examples)
    group = [e for e in examples if any(m["content"].startswith(("赵磊: ", "孙悦: ")) for m in e["messages"])]
    assert len(group) == 3


def test_a_bad_export_stops_apply_with_one_error_and_nothing_uploaded(tmp_path: Path) -> None:
    telegram = b'{\n  "name": "Bob",\n  "type": "personal_chat"\n}\n'
    root = workspace(tmp_path, "{path: data/result.json, format: telegram, me: Me}", {"data/result.json": telegram})
    code, out = run(root, "apply", "--auto-approve")
    assert code == 1
    assert "error: data/result.json:1: not a telegram export: the file has no `messages` list" in out
    assert out.count("error:") == 1
    state = root / "state" / "local.json"
    assert not state.exists() or json.loads(state.read_text())["files"] == {}
    assert not list((root / ".ftrun").glob("server/files/*"))
