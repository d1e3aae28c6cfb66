"""No request body, query or id makes the server answer 5xx: for every implemented operation, inputs generated from
OpenAI's OpenAPI spec (mostly of the right shape, sometimes anything at all) get a 2xx or a 4xx in the error envelope.

The app runs without its worker (nothing trains); one job is trained up front by the fake trainer so that models,
checkpoints and finished jobs exist. Deterministic: derandomized, no example database, bounded examples.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import flask
import pytest
import server_fakes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_strategies import ANY_JSON, from_schema, query_parameters, query_strategy, request_schema
from server_testkit import chat_examples, sdk_client, with_fakes

from runner.server import create_app
from runner.server.datadir import DataDir
from runner.server.worker import Worker

EXAMPLES = 40  # per operation; the ones that take a JSON body get BODY_EXAMPLES
BODY_EXAMPLES = 120


@dataclass(frozen=True)
class Seeded:
    """Real ids on the app, so that generated requests reach past "not found"."""

    files: list[str]
    uploads: list[str]
    parts: list[str]
    jobs: list[str]
    models: list[str]


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # Flask's path, `{id}` where an id goes
    ids: Callable[[Seeded], list[str]] | None = None  # real ids for `{id}`
    spec: tuple[str, str] | None = None  # (spec path, spec method) for the query or body
    body: str | None = None  # "json" or "multipart"
    legacy_fields: tuple[str, ...] = ()  # the original app's endpoints have no spec: their fields


def _files(s: Seeded) -> list[str]:
    return s.files


def _uploads(s: Seeded) -> list[str]:
    return s.uploads


def _jobs(s: Seeded) -> list[str]:
    return s.jobs


def _models(s: Seeded) -> list[str]:
    return s.models


JOB = "/fine_tuning/jobs/{fine_tuning_job_id}"
OPERATIONS = [
    Operation("files.create", "POST", "/v1/files", spec=("/files", "post"), body="multipart"),
    Operation("files.list", "GET", "/v1/files", spec=("/files", "get")),
    Operation("files.retrieve", "GET", "/v1/files/{id}", _files),
    Operation("files.content", "GET", "/v1/files/{id}/content", _files),
    Operation("files.delete", "DELETE", "/v1/files/{id}", _files),
    Operation("uploads.create", "POST", "/v1/uploads", spec=("/uploads", "post"), body="json"),
    Operation("uploads.parts", "POST", "/v1/uploads/{id}/parts", _uploads,
              ("/uploads/{upload_id}/parts", "post"), "multipart"),
    Operation("uploads.complete", "POST", "/v1/uploads/{id}/complete", _uploads,
              ("/uploads/{upload_id}/complete", "post"), "json"),
    Operation("uploads.cancel", "POST", "/v1/uploads/{id}/cancel", _uploads),
    Operation("jobs.create", "POST", "/v1/fine_tuning/jobs", spec=("/fine_tuning/jobs", "post"), body="json"),
    Operation("jobs.list", "GET", "/v1/fine_tuning/jobs", spec=("/fine_tuning/jobs", "get")),
    Operation("jobs.retrieve", "GET", "/v1/fine_tuning/jobs/{id}", _jobs),
    Operation("jobs.cancel", "POST", "/v1/fine_tuning/jobs/{id}/cancel", _jobs),
    Operation("jobs.pause", "POST", "/v1/fine_tuning/jobs/{id}/pause", _jobs),
    Operation("jobs.resume", "POST", "/v1/fine_tuning/jobs/{id}/resume", _jobs),
    Operation("jobs.events", "GET", "/v1/fine_tuning/jobs/{id}/events", _jobs, (f"{JOB}/events", "get")),
    Operation("jobs.checkpoints", "GET", "/v1/fine_tuning/jobs/{id}/checkpoints", _jobs,
              (f"{JOB}/checkpoints", "get")),
    Operation("models.list", "GET", "/v1/models"),
    Operation("models.retrieve", "GET", "/v1/models/{id}", _models),
    Operation("models.delete", "DELETE", "/v1/models/{id}", _models),
    Operation("chat.completions", "POST", "/v1/chat/completions", spec=("/chat/completions", "post"), body="json"),
    Operation("legacy.status", "GET", "/status"),
    Operation("legacy.upload_files", "POST", "/upload_files", body="multipart", legacy_fields=("files",)),
    Operation("legacy.fine_tuning", "POST", "/fine_tuning", body="json",
              legacy_fields=("model", "training_file", "suffix")),
    Operation("legacy.retrieve", "POST", "/retrieve", body="json", legacy_fields=("fine_tuning_job_id",)),
    Operation("legacy.chat", "POST", "/chat", body="json", legacy_fields=("text", "model")),
]  # fmt: skip

ODD_IDS = st.sampled_from(["", "x", "..", "ftjob-", "file-../../etc", "%00", "ft:local/tiny:personal::x", "/tmp",
                           "local/tiny", "a" * 300, "ftjob-" + "A" * 24, "\u00e9\u4e2d", "null"])  # fmt: skip


@pytest.fixture
def seeded_app(tmp_path: Path) -> Iterator[tuple[flask.Flask, Seeded]]:
    data_dir = tmp_path / "data"
    app = with_fakes(create_app(data_dir, start_worker=False), server_fakes.FakeGenerator())
    client = sdk_client(app)
    training = client.files.create(file=("t.jsonl", chat_examples(12)), purpose="fine-tune").id
    other = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch").id
    upload = client.uploads.create(bytes=4, filename="u.jsonl", mime_type="text/jsonl", purpose="fine-tune")
    part = client.uploads.parts.create(upload.id, data=b"{}\n\n").id
    trained = client.fine_tuning.jobs.create(model="local/tiny", training_file=training, suffix="s").id
    worker = Worker(DataDir.at(data_dir), trainer=server_fakes.train,
                    resolve_hyperparameters=server_fakes.resolve_hyperparameters)  # fmt: skip
    worker.run_until_idle()
    done = client.fine_tuning.jobs.retrieve(trained)
    assert done.status == "succeeded" and done.fine_tuned_model
    checkpoints = [c.fine_tuned_model_checkpoint for c in client.fine_tuning.jobs.checkpoints.list(trained)]
    waiting = client.fine_tuning.jobs.create(model="local/tiny", training_file=training, metadata={"k": "v"}).id
    paused = client.fine_tuning.jobs.create(model="local/tiny", training_file=training).id
    worker.runner.validate(worker.store.get_job(paused))  # type: ignore[arg-type]
    client.fine_tuning.jobs.pause(paused)
    seeded = Seeded(
        files=[training, other, *done.result_files],
        uploads=[upload.id],
        parts=[part],
        jobs=[trained, waiting, paused],
        models=[done.fine_tuned_model, *checkpoints, "local/tiny", "fake/base"],
    )
    yield app, seeded
    client.close()


def _names(s: Seeded) -> dict[str, st.SearchStrategy[Any]]:
    """Where a body names something the server holds, the real ids (and odd ones) are drawn too."""
    models = st.sampled_from(s.models) | ODD_IDS
    files = st.sampled_from(s.files) | ODD_IDS
    return {
        "model": models,
        "training_file": files,
        "validation_file": files,
        "fine_tuning_job_id": st.sampled_from(s.jobs) | ODD_IDS,
        "part_ids": st.lists(st.sampled_from(s.parts) | ODD_IDS, max_size=3),
    }


def _path_ids(op: Operation, s: Seeded) -> st.SearchStrategy[str]:
    assert op.ids is not None
    return st.sampled_from(op.ids(s)) | ODD_IDS | st.text(max_size=12)


def _json_body(op: Operation, s: Seeded) -> st.SearchStrategy[Any]:
    names = _names(s)
    if op.legacy_fields:
        schema = {"type": "object", "properties": {k: {"type": "string"} for k in op.legacy_fields}}
        return from_schema(schema, names=names)
    assert op.spec is not None
    return from_schema(request_schema(*op.spec, "application/json"), names=names)


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}[{k}]", v))
        return out
    return {prefix: _form_value(value)}


FILE_BYTES = st.binary(max_size=64) | st.just(chat_examples(12))


def _multipart(op: Operation) -> st.SearchStrategy[dict[str, Any]]:
    """Form fields from the spec's multipart schema; `file`/`data`/`files` fields carry bytes."""
    if op.legacy_fields:
        properties: dict[str, Any] = {"files": {"format": "binary"}}
    else:
        assert op.spec is not None
        properties = request_schema(*op.spec, "multipart/form-data").get("properties", {})

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        form: dict[str, Any] = {}
        for name in draw(st.lists(st.sampled_from(sorted(properties)), unique=True, min_size=0)):
            if properties[name].get("format") == "binary" or name in ("file", "data", "files"):
                filename = draw(st.text(max_size=10) | st.just("t.jsonl"))
                form[name] = (io.BytesIO(draw(FILE_BYTES)), filename)
            else:
                form.update(_flatten(name, draw(from_schema(properties[name]))))
        if draw(st.integers(0, 4)) == 0:
            form[draw(st.text(min_size=1, max_size=6))] = draw(st.text(max_size=6))
        return form

    return build()


def _check(response: Any, op: Operation) -> None:
    assert response.status_code < 500, (op.name, response.status_code, response.get_data(as_text=True)[:500])
    if response.status_code >= 400:
        body = response.get_json()
        error = body["response"]["error"] if op.path.count("/") == 1 and "error" not in body else body["error"]
        assert set(error) == {"message", "type", "param", "code"}, body


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_no_input_makes_a_server_error(op: Operation, seeded_app: tuple[flask.Flask, Seeded]) -> None:
    app, seeded = seeded_app
    http = app.test_client()
    path_ids = _path_ids(op, seeded) if op.ids else st.just("")
    params = query_parameters(*op.spec) if op.spec and op.method == "GET" else {}
    queries = query_strategy(params) if params else st.just({})
    if op.body == "json":
        bodies: st.SearchStrategy[Any] = _json_body(op, seeded)
    elif op.body == "multipart":
        bodies = _multipart(op)
    else:
        bodies = st.none()

    @settings(
        max_examples=BODY_EXAMPLES if op.body == "json" else EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(path_id=path_ids, query=queries, body=bodies, garbage=st.one_of(st.none(), ANY_JSON, st.binary()))
    def run(path_id: str, query: dict[str, str], body: Any, garbage: Any) -> None:
        url = op.path.replace("{id}", quote(path_id, safe=""))
        if op.body == "json":
            response = http.open(url, method=op.method, query_string=query, data=json.dumps(body),
                                 content_type="application/json")  # fmt: skip
        elif op.body == "multipart":
            response = http.open(url, method=op.method, query_string=query, data=body,
                                 content_type="multipart/form-data")  # fmt: skip
        elif garbage is not None:  # an operation without a body, sent one anyway
            data = garbage if isinstance(garbage, bytes) else json.dumps(garbage)
            response = http.open(url, method=op.method, query_string=query, data=data, content_type="application/json")
        else:
            response = http.open(url, method=op.method, query_string=query)
        _check(response, op)

    run()
