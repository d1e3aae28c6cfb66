"""`ftrun export`'s refusals, which need no model: another kind of target, an unknown model, an experiment not
trained yet. (An export that works is in tests/server/test_pretrained_smollm2.py, on a real fine-tuned model.)"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from runner.cli import cli


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--no-color", "-C", str(root), *args])
    return result.exit_code, result.output


def test_export_refusals(tmp_path: Path) -> None:
    code, out = run(tmp_path, "init", "ws")
    assert code == 0, out
    root = tmp_path / "ws"
    code, out = run(root, "export", "example", str(tmp_path / "out"))  # not applied yet: no model of that name
    assert code == 1 and "ftrun apply" in out
    code, out = run(root, "export", "ft:local/tiny:personal::abcdefgh", str(tmp_path / "out"))
    assert code == 1 and "is not a fine-tuned model or checkpoint of the built-in server" in out
    assert not (tmp_path / "out").exists()
    code, out = run(root, "-t", "openai", "export", "example", str(tmp_path / "out"))  # init's second target
    assert code == 1 and "only the built-in server's models can be exported" in out, out
