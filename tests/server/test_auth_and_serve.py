"""API keys, the loopback rule of `serve`, and the app on a real socket (in a thread and as a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from server_testkit import chat_examples, sdk_client

from runner.server import create_app
from runner.server.serve import UnsafeBind, check_bind, serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def keyed_app(data_dir: Path):  # type: ignore[no-untyped-def]
    return create_app(data_dir, api_keys=["sk-first", "sk-second"], start_worker=False)


def test_every_request_needs_a_key(keyed_app) -> None:  # type: ignore[no-untyped-def]
    with httpx2.Client(transport=httpx2.WSGITransport(app=keyed_app), base_url="http://x") as http:
        for method, path in [
            ("GET", "/v1/files"),
            ("GET", "/status"),
            ("POST", "/v1/fine_tuning/jobs"),
            ("GET", "/nope"),
        ]:
            r = http.request(method, path)
            assert r.status_code == 401, path
            assert r.json() == {
                "error": {
                    "message": r.json()["error"]["message"],
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        assert http.get("/v1/files", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
        assert http.get("/v1/files", headers={"Authorization": "Basic sk-first"}).status_code == 401
        assert http.get("/status", headers={"Authorization": "Bearer sk-second"}).status_code == 200
    with pytest.raises(openai.AuthenticationError) as e:
        sdk_client(keyed_app, api_key="sk-wrong").files.list()
    assert e.value.code == "invalid_api_key"
    assert sdk_client(keyed_app, api_key="sk-first").files.list().data == []


def test_serve_refuses_public_bind_without_key(data_dir: Path) -> None:
    with pytest.raises(UnsafeBind, match="no API key") as refused:
        serve(host="0.0.0.0", port=0, data_dir=data_dir)
    hint = refused.value.diagnostics[0].hint or ""
    assert "FTRUN_SERVER_API_KEY" in hint and "process list" in hint  # the environment, not the command line
    with pytest.raises(UnsafeBind):
        check_bind("192.0.2.10", [""])
    check_bind("0.0.0.0", ["sk-key"])
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, [])
    assert not data_dir.exists()  # refused before anything is created


def test_module_refuses_public_bind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FTRUN_SERVER_API_KEY"}
    r = subprocess.run(
        [sys.executable, "-m", "runner.server", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "Refusing to listen on 0.0.0.0" in r.stderr


@pytest.fixture
def socket_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_sdk_over_a_real_socket(socket_server: str) -> None:
    client = openai.OpenAI(base_url=socket_server + "/v1", api_key="k", max_retries=0)
    f = client.files.create(file=("marv.jsonl", chat_examples(12)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="local/tiny", training_file=f.id, metadata={"via": "socket"})
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"via": "socket"})] == [job.id]
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)
    assert client.files.content(f.id).read() == chat_examples(12)
    with pytest.raises(openai.BadRequestError) as e:  # a preset has no weights until a job trains it
        client.chat.completions.create(model="local/tiny", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_supported" and "fine-tune it" in e.value.message
    assert httpx2.get(socket_server + "/status").json() == {"info": "ok", "response": {}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_subprocess_with_api_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "FTRUN_SERVER_API_KEY": "sk-proc"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.server", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx2.get(base + "/status")
                break
            except httpx2.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert r.status_code == 401
        client = openai.OpenAI(base_url=base + "/v1", api_key="sk-proc", max_retries=0)
        assert client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune").bytes == 3
        assert (tmp_path / "d" / "ftrun.sqlite3").is_file()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert "sk-proc" not in output  # the key is never logged
