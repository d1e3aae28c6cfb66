"""Any Hugging Face causal LM in a local directory, fine-tuned by path: all weights, or a LoRA adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_support import MARV, read_jsonl, run_job

from runner.server.training import GenerationParams, generate

pytestmark = pytest.mark.training

GREEDY = GenerationParams(max_tokens=60, temperature=0)


def _reproduced(model_dir: Path) -> int:
    rows = read_jsonl(MARV)
    answers = [generate(model_dir, r["messages"][:-1], GREEDY).choices[0].text for r in rows]
    return sum(a == r["messages"][-1]["content"] for a, r in zip(answers, rows, strict=True))


def _weights(directory: Path) -> bytes:
    return (directory / "model.safetensors").read_bytes()


def test_full_training_by_path(hf_model_dir: Path, tmp_path: Path) -> None:
    before = _weights(hf_model_dir)
    result, hooks = run_job(tmp_path, base_model=str(hf_model_dir))
    assert result.status == "succeeded" and result.model_dir is not None
    assert (result.model_dir / "config.json").is_file()
    assert hooks.losses[-1] < 0.2 * hooks.losses[0]
    assert _weights(hf_model_dir) == before  # the base model is never written to
    assert _reproduced(result.model_dir) >= 12


def test_lora_by_path_trains_an_adapter(hf_model_dir: Path, tmp_path: Path) -> None:
    result, hooks = run_job(tmp_path, base_model=str(hf_model_dir), requested={"lora": True, "lora_r": 16})
    assert result.status == "succeeded" and result.model_dir is not None
    adapter = json.loads((result.model_dir / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and Path(adapter["base_model_name_or_path"]) == hf_model_dir.resolve()
    assert not (result.model_dir / "model.safetensors").exists()  # the adapter only, not a copy of the base
    first, last = hooks.losses[:16], hooks.losses[-16:]
    assert sum(last) / len(last) < 0.5 * sum(first) / len(first)
    tuned = generate(result.model_dir, read_jsonl(MARV)[0]["messages"][:-1], GREEDY).choices[0].text
    base = generate(hf_model_dir, read_jsonl(MARV)[0]["messages"][:-1], GREEDY).choices[0].text
    assert tuned != base
    # Every epoch checkpoint is an adapter too, and loads for chat.
    assert (hooks.checkpoints[0].path / "adapter_config.json").is_file()
    assert generate(hooks.checkpoints[0].path, [{"role": "user", "content": "Hi"}], GREEDY).choices


def test_lora_pause_and_resume(hf_model_dir: Path, tmp_path: Path) -> None:
    from training_support import RecordingHooks

    requested = {"lora": True, "n_epochs": 1, "batch_size": 2}
    straight, straight_hooks = run_job(tmp_path / "straight", base_model=str(hf_model_dir), requested=requested)
    pausing = RecordingHooks(decide=lambda steps: "pause" if steps >= 3 else "continue")
    paused, pausing = run_job(tmp_path / "job", base_model=str(hf_model_dir), requested=requested, hooks=pausing)
    assert paused.status == "paused" and paused.checkpoint_dir is not None
    resumed, resumed_hooks = run_job(
        tmp_path / "job", base_model=str(hf_model_dir), requested=requested, resume_from=paused.checkpoint_dir
    )
    assert resumed.status == "succeeded"
    assert pausing.losses + resumed_hooks.losses == pytest.approx(straight_hooks.losses, rel=1e-5, abs=1e-6)
