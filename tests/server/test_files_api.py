"""`/v1/files` through the real openai SDK on the in-process app."""

from __future__ import annotations

from pathlib import Path

import flask
import httpx2
import openai
import pytest
from server_testkit import chat_examples, error_of


def test_create_retrieve_content_delete(client: openai.OpenAI) -> None:
    data = chat_examples(3)
    f = client.files.create(file=("marv.jsonl", data, "application/jsonl"), purpose="fine-tune")
    assert f.id.startswith("file-") and len(f.id) == len("file-") + 22
    assert (f.object, f.bytes, f.filename, f.purpose, f.status) == (
        "file",
        len(data),
        "marv.jsonl",
        "fine-tune",
        "processed",
    )
    assert client.files.retrieve(f.id) == f
    assert client.files.content(f.id).read() == data
    deleted = client.files.delete(f.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (f.id, "file", True)
    with pytest.raises(openai.NotFoundError) as e:
        client.files.retrieve(f.id)
    assert e.value.body == {
        "message": f"No such File object: {f.id}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }


def test_create_from_path(client: openai.OpenAI, tmp_path: Path) -> None:
    p = tmp_path / "train.jsonl"
    p.write_bytes(chat_examples(2))
    f = client.files.create(file=p, purpose="fine-tune")
    assert f.filename == "train.jsonl" and f.bytes == p.stat().st_size


def test_list_order_purpose_and_pagination(client: openai.OpenAI) -> None:
    ids = [client.files.create(file=(f"{i}.jsonl", b"{}\n"), purpose="fine-tune").id for i in range(5)]
    batch = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch").id
    newest_first = [f.id for f in client.files.list()]
    assert newest_first == [batch, *reversed(ids)]
    assert [f.id for f in client.files.list(purpose="fine-tune", order="asc")] == ids
    page = client.files.list(purpose="fine-tune", order="asc", limit=2)
    assert [f.id for f in page.data] == ids[:2] and page.has_more
    assert (page.first_id, page.last_id) == (ids[0], ids[1])  # type: ignore[attr-defined]
    # the SDK follows `after` across pages
    assert [f.id for f in client.files.list(purpose="fine-tune", order="asc", limit=2)] == ids
    last = client.files.list(purpose="fine-tune", order="asc", limit=2, after=ids[3])
    assert [f.id for f in last.data] == [ids[4]] and not last.has_more


def test_bad_purpose_and_missing_fields(client: openai.OpenAI, http: httpx2.Client) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.jsonl", b"{}"), purpose="nonsense")  # type: ignore[arg-type]
    assert e.value.param == "purpose"
    r = http.post("/v1/files", data={"purpose": "fine-tune"})
    assert r.status_code == 400 and error_of(r)["param"] == "file"
    r = http.get("/v1/files", params={"order": "sideways"})
    assert r.status_code == 400 and error_of(r)["param"] == "order"
    r = http.get("/v1/files", params={"limit": "0"})
    assert r.status_code == 400 and error_of(r)["param"] == "limit"


def test_size_limit_has_openai_error_shape(app: flask.Flask, client: openai.OpenAI) -> None:
    app.config["FTRUN_MAX_FILE_BYTES"] = 1000
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("big.jsonl", b"x" * 1001), purpose="fine-tune")
    assert e.value.code == "file_too_large" and e.value.param == "file"
    assert client.files.list().data == []
    assert client.files.create(file=("ok.jsonl", b"x" * 1000), purpose="fine-tune").bytes == 1000


def test_request_body_limit_on_json_endpoints(http: httpx2.Client) -> None:
    r = http.post(
        "/v1/fine_tuning/jobs",
        content=b"{" + b" " * (5 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert error_of(r)["type"] == "invalid_request_error"


def test_path_traversal_never_escapes_data_dir(client: openai.OpenAI, http: httpx2.Client, data_dir: Path) -> None:
    secret = data_dir.parent / "secret.txt"
    secret.write_text("do not serve")
    f = client.files.create(file=("../../secret.txt", b"payload"), purpose="fine-tune")
    assert f.filename == "../../secret.txt"  # a name is only a label, never a path
    assert secret.read_text() == "do not serve"
    assert sorted(p.name for p in (data_dir / "files").iterdir()) == [f.id]
    for path in (
        "/v1/files/..%2F..%2Fsecret.txt/content",
        "/v1/files/../../secret.txt/content",
        "/v1/files/file-..%2F..%2Fftrun.sqlite3/content",
        "/v1/files/%2e%2e/content",
        "/v1/uploads/upload_..%2F..%2Fx/parts",
    ):
        r = http.get(path) if "content" in path else http.post(path, files={"data": b"x"})
        assert r.status_code == 404, path
        assert "do not serve" not in r.text
        error_of(r)
