"""The provider over the real openai SDK against the built-in server in this process (the local target)."""

from __future__ import annotations

from pathlib import Path

from workspaces import chat_lines

from runner.provider import connect
from runner.workspace import LOCAL, Workspace
from runner.yamlsource import Located


def test_upload_reports_progress_and_is_found_again(tmp_path: Path) -> None:
    ws = Workspace(
        root=tmp_path, name="w", default_target="local", targets={"local": LOCAL}, defaults=Located({}, "", {})
    )
    provider = connect(ws, LOCAL)
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(3000))
    size = data.stat().st_size
    sent: list[int] = []
    uploaded = provider.upload_file(data, "train.abc.jsonl", sent.append)
    assert uploaded.bytes == size
    assert len(sent) > 1 and sent == sorted(sent) and sent[-1] == size
    assert provider.find_file("train.abc.jsonl", size) == uploaded
    assert provider.find_file("train.abc.jsonl", size + 1) is None
    assert provider.get_file(uploaded.id) == uploaded
    assert provider.get_file("file-doesnotexist000000000") is None
    assert provider.get_job("ftjob-doesnotexist000000000") is None
    assert provider.delete_model("ft:local/tiny:personal:x:abcdefgh") is False


def test_a_file_over_the_single_upload_limit_goes_in_parts(tmp_path: Path) -> None:
    ws = Workspace(
        root=tmp_path, name="w", default_target="local", targets={"local": LOCAL}, defaults=Located({}, "", {})
    )
    provider = connect(ws, LOCAL)
    provider._single_upload_limit, provider._part_size = 50_000, 20_000  # a small file stands in for a big one
    data = tmp_path / "big.jsonl"
    data.write_text(chat_lines(2000))
    size = data.stat().st_size
    sent: list[int] = []
    uploaded = provider.upload_file(data, "big.abc.jsonl", sent.append)
    assert uploaded.bytes == size and uploaded.filename == "big.abc.jsonl"
    assert len(sent) == -(-size // 20_000) and sent[-1] == size
    assert provider.find_file("big.abc.jsonl", size) == uploaded
    assert (tmp_path / ".ftrun" / "server" / "files" / uploaded.id).read_bytes() == data.read_bytes()
