"""The original app's five endpoints, with its shapes, on the same data as `/v1`."""

from __future__ import annotations

import httpx2
import openai
from server_testkit import chat_examples

from runner.server.worker import Worker


def test_status(http: httpx2.Client) -> None:
    r = http.get("/status")
    assert r.status_code == 200 and r.json() == {"info": "ok", "response": {}}


def test_upload_train_retrieve_chat(http: httpx2.Client, client: openai.OpenAI, worker: Worker) -> None:
    r = http.post(
        "/upload_files",
        files=[
            ("files", ("marv.jsonl", chat_examples(12), "application/jsonl")),
            ("files", ("marv_zh.jsonl", chat_examples(10), "application/jsonl")),
        ],
    )
    assert r.status_code == 200
    body = r.json()
    assert body["info"] == "ok" and len(body["response"]) == 2
    first = body["response"][0]
    assert {k: first[k] for k in ("filename", "content_type", "size", "status")} == {
        "filename": "marv.jsonl",
        "content_type": "application/jsonl",
        "size": len(chat_examples(12)),
        "status": "uploaded",
    }
    file_id = first["response"]["id"]
    assert first["response"]["object"] == "file" and client.files.retrieve(file_id).purpose == "fine-tune"

    r = http.post("/fine_tuning", json={"training_file": file_id, "suffix": "marv"})
    job = r.json()["response"]
    assert r.json()["info"] == "ok"
    assert (job["object"], job["status"], job["training_file"], job["model"]) == (
        "fine_tuning.job",
        "validating_files",
        file_id,
        "local/tiny",
    )
    assert client.fine_tuning.jobs.retrieve(job["id"]).id == job["id"]  # the same data as /v1
    worker.run_until_idle()

    r = http.post("/retrieve", json={"fine_tuning_job_id": job["id"]})
    done = r.json()["response"]
    assert done["status"] == "succeeded" and done["trained_tokens"] == 600
    assert done["fine_tuned_model"].startswith("ft:local/tiny:personal:marv:")

    r = http.post("/chat", json={"text": "Who are you?"})
    answer = r.json()
    assert answer["info"] == "ok"
    assert set(answer["response"]) == {"content", "id", "model"}
    assert answer["response"]["content"] == "echo: Who are you?"
    assert answer["response"]["model"] == done["fine_tuned_model"]  # the newest fine-tuned model by default
    r = http.post("/chat", json={"text": "again", "model": done["fine_tuned_model"]})
    assert r.json()["response"]["model"] == done["fine_tuned_model"]


def test_errors_keep_the_wrapper(http: httpx2.Client) -> None:
    r = http.post("/retrieve", json={"fine_tuning_job_id": "ftjob-missing000000000000000000"})
    assert r.status_code == 404
    assert r.json()["info"] == "error" and r.json()["response"]["error"]["type"] == "invalid_request_error"
    r = http.post("/chat", json={"text": "hi"})
    assert r.status_code == 400 and r.json()["response"]["error"]["param"] == "model"
    r = http.post("/upload_files")
    assert r.status_code == 400 and r.json()["response"]["error"]["param"] == "files"
    r = http.post("/fine_tuning", json={"training_file": "file-missing0000000000000000"})
    assert r.status_code == 400 and r.json()["response"]["error"]["param"] == "training_file"
