"""Capability profiles: what each host supports, how a target gets its profile, and what follows from it (suffix
codes where jobs keep no metadata, extra request fields, methods a host does not train, chat behind a deployment).

The crash and fault tests (tests/faults) run every case through a proxy that strips job metadata as well: that is
where finding jobs by suffix code is proven end to end."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import openai
import pytest
from click.testing import CliRunner
from workspaces import Workspace

from runner.adoption import CODE_LENGTH, adoptable_job, belongs, version_code
from runner.cli import cli
from runner.diagnostics import SpecError
from runner.profiles import PROFILES, default_flavor, resolve
from runner.provider import OpenAIProvider
from runner.remote import TAG_EXPERIMENT, TAG_TRAINING_HASH, TAG_WORKSPACE, JobRequest, RemoteJob
from runner.workspace import load_workspace


@pytest.mark.parametrize(
    ("kind", "base_url", "flavor"),
    [
        ("local", None, "ftrun"),
        ("openai", None, "openai"),
        ("openai", "https://api.openai.com/v1", "openai"),
        ("openai", "https://contoso.openai.azure.com/openai/v1/", "azure"),
        ("openai", "https://contoso.services.ai.azure.com/openai/v1", "azure"),
        ("openai", "https://api.tokenfactory.nebius.com/v1/", "generic"),
        ("openai", "http://127.0.0.1:8000/v1", "generic"),
        ("openai", "https://api.openai.com.evil.example/v1", "generic"),
    ],
)
def test_a_target_without_flavor_gets_one_from_its_host(kind: str, base_url: str | None, flavor: str) -> None:
    assert default_flavor(kind, base_url) == flavor


def test_suffixes_where_jobs_keep_metadata_are_the_specs() -> None:
    assert PROFILES["openai"].job_suffix("v1.2", "marv", "0123456789") == "v1.2"
    assert PROFILES["ftrun"].job_suffix(None, "marv", "0123456789") is None


def test_azure_suffixes_end_in_the_code_without_dots_within_40_characters() -> None:
    azure = PROFILES["azure"]
    code = version_code("ws", "marv", "h" * 64)
    assert len(code) == CODE_LENGTH
    assert azure.job_suffix("v1.2", "marv", code) == f"v1-2-{code}"
    long = azure.job_suffix("a.very.long.suffix.that.goes.on.and.on.and.on", "marv", code)
    assert long is not None and len(long) <= 40 and long.endswith(f"-{code}") and "." not in long
    assert azure.job_suffix(None, "sarcastic-bot", code) == f"sarcastic-bot-{code}"


def test_a_job_without_tags_belongs_to_the_version_its_suffix_code_names() -> None:
    code = version_code("ws", "marv", "abc")
    untagged = RemoteJob(id="ftjob-1", status="running", model="m", created_at=1, suffix=f"marv-{code}")
    assert belongs(untagged, workspace="ws", experiment="marv", training_hash="abc")
    assert not belongs(untagged, workspace="other", experiment="marv", training_hash="abc")
    assert not belongs(untagged, workspace="ws", experiment="marv", training_hash="abd")
    assert not belongs(untagged, workspace="ws", experiment="marvin", training_hash="abc")
    no_suffix = RemoteJob(id="ftjob-2", status="running", model="m", created_at=2)
    assert adoptable_job([untagged, no_suffix], workspace="ws", experiment="marv", training_hash="abc") == untagged


def test_tags_decide_over_the_suffix_and_name_the_workspace_when_the_list_is_not_filtered() -> None:
    code = version_code("ws", "marv", "abc")
    tags = {TAG_EXPERIMENT: "marv", TAG_TRAINING_HASH: "abc"}
    theirs = RemoteJob("ftjob-3", "running", "m", 3, metadata={**tags, TAG_WORKSPACE: "other"}, suffix=f"x-{code}")
    ours = RemoteJob("ftjob-4", "running", "m", 4, metadata={**tags, TAG_WORKSPACE: "ws"})
    assert not belongs(theirs, workspace="ws", experiment="marv", training_hash="abc")
    assert adoptable_job([theirs, ours], workspace="ws", experiment="marv", training_hash="abc") == ours


def _workspace(tmp_path: Path, target: str) -> Path:
    ws = Workspace(tmp_path / "ws")
    ws.write("ftrun.yaml", f"workspace: w\ndefault_target: t\ntargets:\n  t: {target}\n")
    return ws.root


def test_ftrun_yaml_names_a_flavor_and_corrects_its_facts(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path,
        "{kind: openai, base_url: 'https://h.example/v1', flavor: azure,"
        " capabilities: {metadata: true, methods: [supervised]}, extra_body: {trainingType: GlobalStandard}}",
    )
    profile = load_workspace(root).target("t").profile
    assert profile.name == "azure" and profile.metadata and profile.methods == {"supervised"}
    assert profile.extra_body == {"trainingType": "GlobalStandard"} and profile.max_suffix == 40
    assert resolve("generic").finds_jobs_by_suffix


def test_an_unknown_flavor_is_an_error_naming_the_line(tmp_path: Path) -> None:
    root = _workspace(tmp_path, "\n    kind: openai\n    flavor: azur\n")
    with pytest.raises(SpecError) as e:
        load_workspace(root)
    [d] = e.value.diagnostics
    assert (d.file, d.line) == ("ftrun.yaml", 6) and "azur" in d.message


def test_the_plan_says_what_the_profile_implies(tmp_path: Path) -> None:
    root = _workspace(tmp_path, "{kind: openai, base_url: 'https://contoso.openai.azure.com/openai/v1/'}")
    assert load_workspace(root).target("t").notes == (
        "azure: jobs found by suffix code; requests carry trainingType=Standard; chat needs a deployment",
    )
    assert load_workspace(_workspace(tmp_path / "o", "{kind: openai}")).target("t").notes == ()


def test_a_method_the_host_does_not_train_fails_validate_at_its_line(workspace: Workspace) -> None:
    workspace.experiment(
        "rft", "training_file: data/train.jsonl\nmethod:\n  type: reinforcement\n  grader: {type: string_check}\n"
    )
    result = CliRunner().invoke(cli, ["-C", str(workspace.root), "--no-color", "validate"])
    assert result.exit_code == 1
    assert "experiments/rft.yaml:2" in result.output
    assert "does not train the reinforcement method (it trains dpo, supervised)" in result.output


def test_requests_carry_the_profiles_extra_fields_and_no_metadata_where_none_is_kept(tmp_path: Path) -> None:
    """The real SDK, with a transport that records what would go over the wire."""
    sent: list[dict[str, object]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        job = {"id": "ftjob-x", "object": "fine_tuning.job", "status": "queued", "model": body["model"]}
        job |= {"created_at": 1, "training_file": body["training_file"], "user_provided_suffix": body.get("suffix")}
        return httpx2.Response(200, json=job)

    root = _workspace(tmp_path, "{kind: openai, base_url: 'https://contoso.openai.azure.com/openai/v1/'}")
    target = load_workspace(root).target("t")
    client = openai.OpenAI(
        base_url=target.base_url, api_key="k", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
    )
    request = JobRequest(
        model="gpt-4.1-mini-2025-04-14",
        training_file="file-1",
        validation_file=None,
        method={"type": "supervised"},
        suffix="marv-0123456789",
        seed=None,
        metadata={TAG_EXPERIMENT: "marv"},
    )
    job = OpenAIProvider(client, target).create_job(request)
    [body] = sent
    assert body["trainingType"] == "Standard" and "metadata" not in body
    assert job.suffix == "marv-0123456789"


def test_the_plan_comment_and_json_carry_the_profiles_notes() -> None:
    from runner.plan import make_plan
    from runner.remote import Snapshot
    from runner.state import State
    from runner.views.plan import plan_markdown

    notes = ("azure: jobs found by suffix code; chat needs a deployment",)
    plan = make_plan(
        [], State.new("t"), Snapshot(), target="t", endpoint="https://h/v1", workspace="w", target_notes=notes
    )
    assert plan.to_dict()["target_notes"] == list(notes)
    assert f"> {notes[0]}" in plan_markdown(plan)
