"""Every response shape the server produces, validated against OpenAI's OpenAPI spec (leniently, see
server_openapi.DEVIATIONS). Skipped when the spec is not beside the checkout (../shared)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest
import server_fakes
import server_openapi as openapi_schemas
from server_testkit import chat_examples, preference_examples

from runner.server.worker import Worker

pytestmark = pytest.mark.skipif(
    not openapi_schemas.SPEC_PATH.is_file(),
    reason=f"OpenAI's OpenAPI spec is not at {openapi_schemas.SPEC_PATH} (a checkout without ../shared)",
)


class Recorder:
    """Raw HTTP calls whose JSON bodies are checked against a named spec schema."""

    def __init__(self, http: httpx2.Client) -> None:
        self.http = http
        self.checked: list[str] = []

    def call(self, schema: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code == status, (path, r.text)
        body = r.json()
        problems = openapi_schemas.errors_for(schema, body)
        assert not problems, f"{method} {path} does not match {schema}:\n" + "\n".join(problems)
        self.checked.append(schema)
        return body


def test_deviations_are_needed_and_nothing_else_is_relaxed() -> None:
    # each allowed deviation is a value the real API returns and the spec alone rejects; otherwise drop it
    observed: dict[str, Any] = {
        "error": {},
        "status": "paused",
        "hyperparameters": None,
        "data": None,
        "status_details": None,
        "expires_at": None,
    }
    assert {prop for _, prop in openapi_schemas.DEVIATIONS} == set(observed)
    for schema, prop in openapi_schemas.DEVIATIONS:
        spec_alone = {"$ref": f"{openapi_schemas.SPEC_URI}#/components/schemas/{schema}/properties/{prop}/anyOf/0"}
        check = openapi_schemas.jsonschema.Draft202012Validator(spec_alone, registry=openapi_schemas._registry())
        assert not check.is_valid(observed[prop]), f"{schema}.{prop} needs no deviation"
        with_deviation = {"$ref": f"{openapi_schemas.SPEC_URI}#/components/schemas/{schema}/properties/{prop}"}
        check = openapi_schemas.jsonschema.Draft202012Validator(with_deviation, registry=openapi_schemas._registry())
        assert check.is_valid(observed[prop])
    assert openapi_schemas.errors_for("FineTuningJob", {"id": 1})  # the validator does reject bad shapes


def test_every_response_matches_the_spec(http: httpx2.Client, client: openai.OpenAI, worker: Worker) -> None:
    rec = Recorder(http)
    f = rec.call(
        "OpenAIFile", "POST", "/v1/files", files={"file": ("t.jsonl", chat_examples(12))}, data={"purpose": "fine-tune"}
    )
    rec.call(
        "OpenAIFile",
        "POST",
        "/v1/files",
        files={"file": ("e.jsonl", b"{}\n")},
        data={"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"},
    )
    v = rec.call(
        "OpenAIFile", "POST", "/v1/files", files={"file": ("v.jsonl", chat_examples(2))}, data={"purpose": "fine-tune"}
    )
    rec.call("ListFilesResponse", "GET", "/v1/files", params={"limit": 2})
    rec.call("OpenAIFile", "GET", f"/v1/files/{f['id']}")

    u = rec.call(
        "Upload",
        "POST",
        "/v1/uploads",
        json={"filename": "u.jsonl", "purpose": "fine-tune", "bytes": 4, "mime_type": "text/jsonl"},
    )
    p = rec.call("UploadPart", "POST", f"/v1/uploads/{u['id']}/parts", files={"data": b"abcd"})
    rec.call("Upload", "POST", f"/v1/uploads/{u['id']}/complete", json={"part_ids": [p["id"]]})
    u2 = rec.call(
        "Upload",
        "POST",
        "/v1/uploads",
        json={"filename": "u.jsonl", "purpose": "fine-tune", "bytes": 4, "mime_type": "text/jsonl"},
    )
    rec.call("Upload", "POST", f"/v1/uploads/{u2['id']}/cancel")

    job = rec.call(
        "FineTuningJob",
        "POST",
        "/v1/fine_tuning/jobs",
        json={
            "model": "local/tiny",
            "training_file": f["id"],
            "validation_file": v["id"],
            "suffix": "c",
            "metadata": {"k": "v"},
            "integrations": [{"type": "wandb", "wandb": {"project": "p"}}],
        },
    )
    pref = client.files.create(file=("p.jsonl", preference_examples(10)), purpose="fine-tune").id
    dpo = rec.call(
        "FineTuningJob",
        "POST",
        "/v1/fine_tuning/jobs",
        json={"model": "local/tiny", "training_file": pref, "method": {"type": "dpo"}},
    )
    to_pause = rec.call(
        "FineTuningJob", "POST", "/v1/fine_tuning/jobs", json={"model": "local/tiny", "training_file": f["id"]}
    )
    to_fail = rec.call(
        "FineTuningJob",
        "POST",
        "/v1/fine_tuning/jobs",
        json={"model": "local/tiny", "training_file": f["id"], "seed": server_fakes.SEED_CRASH},
    )
    to_cancel = rec.call(
        "FineTuningJob", "POST", "/v1/fine_tuning/jobs", json={"model": "local/tiny", "training_file": f["id"]}
    )
    rec.call("FineTuningJob", "POST", f"/v1/fine_tuning/jobs/{to_cancel['id']}/cancel")
    worker.runner.validate(worker.store.get_job(to_pause["id"]))  # type: ignore[arg-type]
    rec.call("FineTuningJob", "POST", f"/v1/fine_tuning/jobs/{to_pause['id']}/pause")
    worker.run_until_idle()
    rec.call("FineTuningJob", "POST", f"/v1/fine_tuning/jobs/{to_pause['id']}/resume")

    done = rec.call("FineTuningJob", "GET", f"/v1/fine_tuning/jobs/{job['id']}")
    assert done["status"] == "succeeded"
    assert rec.call("FineTuningJob", "GET", f"/v1/fine_tuning/jobs/{dpo['id']}")["hyperparameters"] is None
    assert rec.call("FineTuningJob", "GET", f"/v1/fine_tuning/jobs/{to_fail['id']}")["status"] == "failed"
    rec.call("ListPaginatedFineTuningJobsResponse", "GET", "/v1/fine_tuning/jobs", params={"limit": 10})
    rec.call("ListPaginatedFineTuningJobsResponse", "GET", "/v1/fine_tuning/jobs", params={"metadata[k]": "v"})
    rec.call(
        "ListFineTuningJobEventsResponse", "GET", f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}
    )
    rec.call("ListFineTuningJobCheckpointsResponse", "GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints")
    rec.call("OpenAIFile", "GET", f"/v1/files/{done['result_files'][0]}")

    rec.call("ListModelsResponse", "GET", "/v1/models")
    rec.call("Model", "GET", f"/v1/models/{done['fine_tuned_model']}")
    rec.call(
        "CreateChatCompletionResponse",
        "POST",
        "/v1/chat/completions",
        json={"model": done["fine_tuned_model"], "messages": [{"role": "user", "content": "hi"}], "n": 2},
    )
    rec.call("DeleteModelResponse", "DELETE", f"/v1/models/{done['fine_tuned_model']}")
    rec.call("DeleteFileResponse", "DELETE", f"/v1/files/{v['id']}")

    error_calls: list[tuple[int, str, str, dict[str, Any]]] = [
        (404, "GET", "/v1/files/file-missing0000000000000000", {}),
        (404, "GET", "/v1/fine_tuning/jobs/ftjob-missing", {}),
        (400, "POST", f"/v1/fine_tuning/jobs/{job['id']}/cancel", {}),
        (400, "POST", "/v1/fine_tuning/jobs", {"json": {"model": "local/tiny"}}),
        (
            404,
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "nope", "messages": [{"role": "user", "content": "x"}]}},
        ),
        (404, "GET", "/v1/no/such/route", {}),
        (405, "DELETE", "/v1/fine_tuning/jobs", {}),
    ]
    for status, method, path, kw in error_calls:
        rec.call("ErrorResponse", method, path, status, **kw)
    assert len(set(rec.checked)) == 14


def test_objects_inside_the_original_apps_answers_match_the_spec(http: httpx2.Client) -> None:
    r = http.post("/upload_files", files=[("files", ("m.jsonl", chat_examples(12), "application/jsonl"))])
    file = r.json()["response"][0]["response"]
    assert not openapi_schemas.errors_for("OpenAIFile", file)
    job = http.post("/fine_tuning", json={"training_file": file["id"]}).json()["response"]
    assert not openapi_schemas.errors_for("FineTuningJob", job)
    again = http.post("/retrieve", json={"fine_tuning_job_id": job["id"]}).json()["response"]
    assert not openapi_schemas.errors_for("FineTuningJob", again)
