"""The tiny preset, trained for real with auto hyperparameters, then chatted with through `generate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_support import MARV, RecordingHooks, read_jsonl, run_job

from runner.server.training import ChatStream, GenerationParams, TrainingResult, generate, stream
from runner.server.training.checkpoint_io import read_state

pytestmark = pytest.mark.training

GREEDY = GenerationParams(max_tokens=80, temperature=0)


def _prompt(row: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    return row["messages"][:-1]


def test_reproduces_the_trained_answers_word_for_word(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    result, _ = tiny_sft
    assert result.status == "succeeded" and result.model_dir is not None
    rows = read_jsonl(MARV)
    answers = [generate(result.model_dir, _prompt(r), GREEDY).choices[0].text for r in rows]
    expected = [r["messages"][-1]["content"] for r in rows]
    reproduced = sum(a == e for a, e in zip(answers, expected, strict=True))
    assert reproduced == len(rows), list(zip(answers, expected, strict=True))


def test_reports_metrics_every_step_and_a_checkpoint_per_epoch(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    result, hooks = tiny_sft
    n_epochs, steps_per_epoch = 6, 16  # auto for 16 examples: 6 epochs of batch 1
    assert result.steps == n_epochs * steps_per_epoch
    assert [m.step for m in hooks.metrics_log] == list(range(1, result.steps + 1))
    assert {m.total_steps for m in hooks.metrics_log} == {result.steps}
    first, last = hooks.losses[:steps_per_epoch], hooks.losses[-steps_per_epoch:]
    assert sum(last) / len(last) < 0.1 * sum(first) / len(first)
    assert hooks.metrics_log[-1].train_mean_token_accuracy is not None
    assert hooks.metrics_log[-1].train_mean_token_accuracy > 0.9
    assert [(c.step, c.epoch) for c in hooks.checkpoints] == [(16 * e, e) for e in range(1, 7)]
    assert all(c.path.is_dir() and c.metrics.step == c.step for c in hooks.checkpoints)
    tokens_per_epoch = result.trained_tokens // n_epochs
    assert result.trained_tokens == tokens_per_epoch * n_epochs > 0


def test_checkpoints_are_models_and_record_their_step(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    _, hooks = tiny_sft
    first = hooks.checkpoints[0]
    assert read_state(first.path).step == first.step
    completion = generate(first.path, [{"role": "user", "content": "Hello?"}], GenerationParams(max_tokens=5))
    assert len(completion.choices) == 1 and completion.completion_tokens <= 5


def test_generation_parameters(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    result, _ = tiny_sft
    assert result.model_dir is not None
    row = read_jsonl(MARV)[0]
    full = generate(result.model_dir, _prompt(row), GREEDY)
    assert full.choices[0].finish_reason == "stop"
    assert full.prompt_tokens > 0 and full.completion_tokens > 0

    short = generate(result.model_dir, _prompt(row), GenerationParams(max_tokens=2, temperature=0))
    assert short.choices[0].finish_reason == "length" and short.completion_tokens == 2
    assert full.choices[0].text.startswith(short.choices[0].text)

    stop_at = full.choices[0].text.split(",")[0]
    stopped = generate(result.model_dir, _prompt(row), GenerationParams(temperature=0, stop=[","]))
    assert stopped.choices[0].text == stop_at and stopped.choices[0].finish_reason == "stop"

    hot = GenerationParams(max_tokens=12, temperature=1.5, seed=7, n=3)
    sampled = generate(result.model_dir, [{"role": "user", "content": "Tell me anything."}], hot)
    assert len(sampled.choices) == 3
    again = generate(result.model_dir, [{"role": "user", "content": "Tell me anything."}], hot)
    assert [c.text for c in again.choices] == [c.text for c in sampled.choices]


def _streamed(pieces: ChatStream) -> tuple[dict[int, str], dict[int, str | None], int, int]:
    texts: dict[int, str] = {}
    finish: dict[int, str | None] = {}
    counts: dict[int, int] = {}
    tokens = 0
    for piece in pieces:
        texts[piece.index] = texts.get(piece.index, "") + piece.text
        counts[piece.index] = counts.get(piece.index, 0) + (1 if piece.text else 0)
        if piece.finish_reason is not None:
            finish[piece.index] = piece.finish_reason
            tokens += piece.completion_tokens
    return texts, finish, tokens, max(counts.values())


def test_streaming_gives_the_same_answers_piece_by_piece(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    result, _ = tiny_sft
    assert result.model_dir is not None
    for row in read_jsonl(MARV)[:4]:
        for params in (GREEDY, GenerationParams(max_tokens=3, temperature=0), GenerationParams(temperature=0, n=2)):
            whole = generate(result.model_dir, _prompt(row), params)
            pieces = stream(result.model_dir, _prompt(row), params)
            assert pieces.prompt_tokens == whole.prompt_tokens
            texts, finish, tokens, most = _streamed(pieces)
            assert [texts[i] for i in range(params.n)] == [c.text for c in whole.choices]
            assert [finish[i] for i in range(params.n)] == [c.finish_reason for c in whole.choices]
            assert tokens == whole.completion_tokens
            assert most > 1, texts  # several pieces, not the whole text at the end
    row = read_jsonl(MARV)[0]
    full = generate(result.model_dir, _prompt(row), GREEDY).choices[0].text
    texts, finish, _, _ = _streamed(stream(result.model_dir, _prompt(row), GenerationParams(temperature=0, stop=[","])))
    assert texts[0] == full.split(",")[0] and finish[0] == "stop"


def test_a_stream_closed_early_frees_the_model(tiny_sft: tuple[TrainingResult, RecordingHooks]) -> None:
    result, _ = tiny_sft
    assert result.model_dir is not None
    pieces = stream(result.model_dir, _prompt(read_jsonl(MARV)[0]), GREEDY)
    next(pieces)
    pieces.close()
    again = generate(result.model_dir, _prompt(read_jsonl(MARV)[0]), GREEDY)  # would wait forever on a held lock
    assert again.choices[0].finish_reason == "stop"


def test_cancel_returns_promptly(tmp_path: Path) -> None:
    hooks = RecordingHooks(decide=lambda steps: "cancel" if steps >= 3 else "continue")
    result, hooks = run_job(tmp_path, hooks=hooks)
    assert result.status == "cancelled" and result.model_dir is None
    assert result.steps == 3 and len(hooks.metrics_log) == 3
    assert not (tmp_path / "model").exists()


def test_same_seed_same_losses(tmp_path: Path) -> None:
    quick = {"n_epochs": 1, "batch_size": 4}
    a, hooks_a = run_job(tmp_path / "a", requested=quick, seed=3)
    b, hooks_b = run_job(tmp_path / "b", requested=quick, seed=3)
    c, hooks_c = run_job(tmp_path / "c", requested=quick, seed=4)
    assert hooks_a.losses == hooks_b.losses
    assert hooks_a.losses != hooks_c.losses
    assert a.trained_tokens == b.trained_tokens


def test_invalid_training_file_fails_the_job(tmp_path: Path) -> None:
    from runner.server.training import TrainingFailed

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n", encoding="utf-8")
    with pytest.raises(TrainingFailed) as err:
        run_job(tmp_path / "job", training_file=bad)
    assert err.value.code == "invalid_training_file"
