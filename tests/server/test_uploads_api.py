"""`/v1/uploads`: parts in any order, completion checks, cancel, expiry."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import httpx2
import openai
import pytest
from server_testkit import chat_examples


def _upload(client: openai.OpenAI, size: int, filename: str = "big.jsonl") -> str:
    u = client.uploads.create(bytes=size, filename=filename, mime_type="application/jsonl", purpose="fine-tune")
    assert (u.object, u.status, u.bytes, u.file) == ("upload", "pending", size, None)
    assert u.id.startswith("upload_") and u.expires_at == u.created_at + 3600
    return u.id


def test_parts_out_of_order_complete_in_order(client: openai.OpenAI, data_dir: Path) -> None:
    data = chat_examples(20)
    chunks = [data[i : i + 700] for i in range(0, len(data), 700)]
    upload_id = _upload(client, len(data))
    part_ids: dict[int, str] = {}
    for i in reversed(range(len(chunks))):  # sent last part first
        part = client.uploads.parts.create(upload_id, data=chunks[i])
        assert (part.object, part.upload_id) == ("upload.part", upload_id) and part.id.startswith("part_")
        part_ids[i] = part.id
    done = client.uploads.complete(
        upload_id, part_ids=[part_ids[i] for i in range(len(chunks))], md5=hashlib.md5(data).hexdigest()
    )
    assert done.status == "completed" and done.file is not None
    assert (done.file.bytes, done.file.filename, done.file.purpose) == (len(data), "big.jsonl", "fine-tune")
    assert client.files.content(done.file.id).read() == data
    assert not (data_dir / "uploads" / upload_id).exists()  # parts are cleaned up
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload_id, data=b"more")


def test_sdk_chunked_helper(client: openai.OpenAI) -> None:
    data = chat_examples(30)
    done = client.uploads.upload_file_chunked(
        file=data,
        bytes=len(data),
        filename="c.jsonl",
        mime_type="application/jsonl",
        purpose="fine-tune",
        part_size=1000,
    )
    assert done.file is not None and client.files.content(done.file.id).read() == data


def test_complete_checks_bytes_ids_and_md5(client: openai.OpenAI) -> None:
    upload_id = _upload(client, 10)
    a = client.uploads.parts.create(upload_id, data=b"12345").id
    with pytest.raises(openai.BadRequestError, match="5 bytes, but the upload was created for 10"):
        client.uploads.complete(upload_id, part_ids=[a])
    b = client.uploads.parts.create(upload_id, data=b"67890").id
    with pytest.raises(openai.BadRequestError, match="does not belong"):
        client.uploads.complete(upload_id, part_ids=[a, "part_" + "x" * 24])
    with pytest.raises(openai.BadRequestError) as e:
        client.uploads.complete(upload_id, part_ids=[a, b], md5="0" * 32)
    assert e.value.param == "md5"
    assert client.files.list().data == []
    done = client.uploads.complete(upload_id, part_ids=[b, a])  # order is the caller's to choose
    assert done.file is not None and client.files.content(done.file.id).read() == b"6789012345"


def test_part_size_limit(app, client: openai.OpenAI) -> None:  # type: ignore[no-untyped-def]
    app.config["FTRUN_MAX_PART_BYTES"] = 8
    upload_id = _upload(client, 9)
    with pytest.raises(openai.BadRequestError) as e:
        client.uploads.parts.create(upload_id, data=b"123456789")
    assert e.value.code == "file_too_large"


def test_cancel(client: openai.OpenAI, data_dir: Path) -> None:
    upload_id = _upload(client, 4)
    client.uploads.parts.create(upload_id, data=b"abcd")
    cancelled = client.uploads.cancel(upload_id)
    assert cancelled.status == "cancelled"
    assert not (data_dir / "uploads" / upload_id).exists()
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel(upload_id)
    with pytest.raises(openai.NotFoundError):
        client.uploads.cancel("upload_doesnotexist000000000000")


def test_expires_after_an_hour(client: openai.OpenAI, data_dir: Path, http: httpx2.Client) -> None:
    upload_id = _upload(client, 4)
    with sqlite3.connect(data_dir / "ftrun.sqlite3") as db:
        db.execute("UPDATE uploads SET expires_at = created_at - 1 WHERE id=?", (upload_id,))
    with pytest.raises(openai.BadRequestError, match="expired"):
        client.uploads.parts.create(upload_id, data=b"abcd")
    r = http.post(f"/v1/uploads/{upload_id}/complete", json={"part_ids": []})
    assert r.status_code == 400


def test_create_validation(http: httpx2.Client) -> None:
    r = http.post("/v1/uploads", json={"filename": "a", "purpose": "fine-tune", "mime_type": "text/plain", "bytes": -1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "bytes"
    r = http.post("/v1/uploads", json={"filename": "a", "purpose": "x", "mime_type": "text/plain", "bytes": 1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "purpose"
