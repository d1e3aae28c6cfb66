"""The local target reads the in-process server without the SDK or Flask: the same records as the SDK path, page by
page, and writes through the SDK against the app on the same context."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from workspaces import chat_lines

from runner.diagnostics import ProviderError
from runner.local_target import LocalProvider
from runner.provider import in_process
from runner.remote import JobRequest
from runner.server.app import app_for
from runner.server.context import open_context
from runner.workspace import LOCAL


def test_reads_match_the_sdk_and_writes_go_through_it(tmp_path: Path) -> None:
    context = open_context(tmp_path / "server", start_worker=False)
    sdk, local = in_process(app_for(context), LOCAL), LocalProvider(context, LOCAL)
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(12))
    uploaded = local.upload_file(data, "train.abc.jsonl")
    assert local.get_file(uploaded.id) == sdk.get_file(uploaded.id) == uploaded
    assert local.find_file("train.abc.jsonl", data.stat().st_size) == uploaded
    assert local.find_file("train.abc.jsonl", 1) is None
    content_sha = hashlib.sha256(data.read_bytes()).hexdigest()
    assert local.file_sha256(uploaded.id) == sdk.file_sha256(uploaded.id) == content_sha  # streamed, not buffered
    assert local.file_sha256("file-nosuchfile") is None
    jobs = [
        local.create_job(
            JobRequest("local/tiny", uploaded.id, None, {"type": "supervised"}, f"s{i}", i, {"ftrun_experiment": "x"})
        )
        for i in range(105)  # more than one page of 100
    ]
    listed = local.list_jobs({"ftrun_experiment": "x"})
    assert sorted(j.id for j in listed) == sorted(j.id for j in jobs)
    assert sorted(listed, key=lambda j: j.id) == sorted(sdk.list_jobs({"ftrun_experiment": "x"}), key=lambda j: j.id)
    assert local.list_jobs({"ftrun_experiment": "y"}) == []
    assert local.get_job(jobs[0].id) == sdk.get_job(jobs[0].id)
    assert local.get_job("ftjob-nosuchjob") is None and local.get_file("file-nosuchfile") is None
    cancelled = local.cancel_job(jobs[0].id)
    assert cancelled.status == "cancelled" and local.get_job(jobs[0].id) == cancelled
    events = local.events(jobs[0].id)
    assert events == sdk.events(jobs[0].id) and len(events) >= 2  # created, cancelled: oldest first
    assert local.events(jobs[0].id, after=events[0].id) == events[1:]
    assert local.checkpoints(jobs[0].id) == sdk.checkpoints(jobs[0].id) == []
    assert local.list_models() == sdk.list_models()


def test_a_recorded_file_whose_bytes_are_gone_is_an_error_not_a_missing_file(tmp_path: Path) -> None:
    context = open_context(tmp_path / "server", start_worker=False)
    local = LocalProvider(context, LOCAL)
    data = tmp_path / "train.jsonl"
    data.write_text(chat_lines(3))
    uploaded = local.upload_file(data, "train.abc.jsonl")
    context.data.file_path(uploaded.id).unlink()
    with pytest.raises(ProviderError, match=f"failed reading file {uploaded.id}"):
        local.file_sha256(uploaded.id)
