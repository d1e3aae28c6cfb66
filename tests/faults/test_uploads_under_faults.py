"""An upload whose answer is lost is found on the target, never stored twice; on both paths (one request to
`/files`, and the Uploads API's create, parts and complete for large files).

The provider is the one `ftrun` connects (the openai SDK with its retries for reads) and talks to `ftrun serve`
through the fault proxy, which loses, refuses or resets exactly the request a test names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from faultkit import KEY, KEY_ENV, Served
from faultproxy import Always, Fault, FaultProxy, Faults, Scripted, fault_proxy
from workspaces import chat_lines

from runner.diagnostics import ProviderError
from runner.provider import CREATE_ATTEMPTS, OpenAIProvider, connect
from runner.workspace import Target, Workspace
from runner.yamlsource import Located

pytestmark = pytest.mark.slow

FILES = r"/v1/files"
UPLOADS = r"/v1/uploads"
PARTS = r"/v1/uploads/[^/]+/parts"
COMPLETE = r"/v1/uploads/[^/]+/complete"


Through = Callable[[Faults], tuple[FaultProxy, OpenAIProvider]]


@pytest.fixture
def through(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Through]:
    """`through(faults)`: a proxy with these faults in front of the server, and the provider `ftrun` connects to it
    (the same SDK client, retries included)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    with ExitStack() as stack:

        def make(faults: Faults) -> tuple[FaultProxy, OpenAIProvider]:
            proxy = stack.enter_context(fault_proxy(served.port, faults))
            target = Target(name="serve", kind="openai", base_url=proxy.url, api_key_env=KEY_ENV)
            ws = Workspace(
                root=tmp_path, name="w", default_target="serve", targets={"serve": target}, defaults=Located({}, "", {})
            )
            return proxy, connect(ws, target)

        yield make


def data_file(tmp_path: Path, tag: str, lines: int = 12) -> tuple[Path, str]:
    path = tmp_path / f"{tag}.jsonl"
    path.write_text(chat_lines(lines, tag=f"{tag} {tmp_path.name}"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path, f"{tag}.{digest}.jsonl"


def stored(served: Served, filename: str) -> list[str]:
    return [f.id for f in served.client.files.list(purpose="fine-tune") if f.filename == filename]


@pytest.mark.parametrize("fault", [Fault.LOST, Fault.RESET_AFTER], ids=["answer-lost", "reset-after-forwarding"])
def test_an_upload_the_server_stored_but_never_answered_is_found_not_sent_again(
    served: Served, through: Through, tmp_path: Path, fault: Fault
) -> None:
    proxy, provider = through(Scripted("POST", FILES, fault))
    path, name = data_file(tmp_path, "lost")
    uploaded = provider.upload_file(path, name)
    assert stored(served, name) == [uploaded.id]
    assert proxy.count("POST", FILES) == 1  # the SDK's blind retry would have sent it twice
    assert uploaded.bytes == path.stat().st_size


def test_an_upload_refused_before_reaching_the_server_is_sent_again(
    served: Served, through: Through, tmp_path: Path
) -> None:
    proxy, provider = through(Scripted("POST", FILES, Fault.UNAVAILABLE))
    path, name = data_file(tmp_path, "refused")
    uploaded = provider.upload_file(path, name)
    assert stored(served, name) == [uploaded.id]
    assert proxy.count("POST", FILES) == 2 and proxy.count("GET", FILES) == 1  # looked, found nothing, sent again


def test_an_upload_that_keeps_failing_stops_after_its_attempts_with_one_line(
    served: Served, through: Through, tmp_path: Path
) -> None:
    proxy, provider = through(Always("POST", FILES, Fault.ERROR))
    path, name = data_file(tmp_path, "failing")
    with pytest.raises(ProviderError) as e:
        provider.upload_file(path, name)
    [d] = e.value.diagnostics
    assert "HTTP 500" in d.message and "uploading" in d.message and "safe to repeat" in (d.hint or "")
    assert proxy.count("POST", FILES) == CREATE_ATTEMPTS
    assert stored(served, name) == []


def test_reads_keep_the_sdks_retries(served: Served, through: Through, tmp_path: Path) -> None:
    proxy, provider = through(Scripted("GET", FILES, Fault.ERROR))
    path, name = data_file(tmp_path, "read")
    served_file = served.client.files.create(file=(name, path.read_bytes()), purpose="fine-tune")
    found = provider.find_file(name, path.stat().st_size)
    assert found is not None and found.id == served_file.id
    assert proxy.count("GET", FILES) == 2


@pytest.fixture
def in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of more than 1000 bytes go up through the Uploads API, in parts of 700 bytes."""
    import runner.provider

    monkeypatch.setattr(runner.provider, "FILES_API_LIMIT", 1000)
    monkeypatch.setattr(runner.provider, "UPLOAD_PART_SIZE", 700)


@pytest.mark.parametrize(
    ("method", "path", "fault", "nth"),
    [
        ("POST", UPLOADS, Fault.LOST, 1),
        ("POST", PARTS, Fault.LOST, 2),
        ("POST", PARTS, Fault.RESET_AFTER, 1),
        ("POST", COMPLETE, Fault.LOST, 1),
        ("POST", COMPLETE, Fault.RESET_AFTER, 1),
        ("POST", COMPLETE, Fault.ERROR, 1),
    ],
    ids=["create-lost", "second-part-lost", "part-reset", "complete-lost", "complete-reset", "complete-refused"],
)
def test_a_large_upload_with_a_lost_answer_makes_one_file(
    served: Served, through: Through, tmp_path: Path, in_parts: None, method: str, path: str, fault: Fault, nth: int
) -> None:
    proxy, provider = through(Scripted(method, path, fault, nth))
    data, name = data_file(tmp_path, "big")
    size = data.stat().st_size
    assert size > 2 * 700
    uploaded = provider.upload_file(data, name)
    assert stored(served, name) == [uploaded.id]
    assert served.client.files.content(uploaded.id).read() == data.read_bytes()
    assert proxy.count("POST", FILES) == 0
    completes = proxy.count("POST", COMPLETE)
    assert completes == (2 if (path, fault) == (COMPLETE, Fault.ERROR) else 1)  # a lost complete is looked up
