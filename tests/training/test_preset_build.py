"""Building a preset: its tokenizer cached by data hash, and the freshly built model handed to training as it is,
equal to what loading it back from disk gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.server.training.model_setup import load_trainable, preset_tokenizers, start_directory
from runner.server.training.models import load_model, load_tokenizer
from runner.server.training.tokenizer_builder import cached_tokenizer, tokenizer_key

TEXTS = ["Paris, as if you didn't know.", "Eight. Count them yourself next time.", "Blue, on a good day."] * 4

pytestmark = pytest.mark.training


def test_a_tokenizer_is_built_once_per_data(tmp_path: Path) -> None:
    cache = tmp_path / "tokenizers"
    first = cached_tokenizer(TEXTS, 512, cache)
    entries = list(cache.iterdir())
    assert [e.name for e in entries] == [tokenizer_key(TEXTS, 512)]
    (entries[0] / "marker").write_text("kept")  # a second build would replace the entry, and this with it
    again = cached_tokenizer(TEXTS, 512, cache)
    assert (entries[0] / "marker").is_file()
    prompt = [{"role": "user", "content": "Count them?"}, {"role": "assistant", "content": "Eight, as if."}]
    assert again.apply_chat_template(prompt, tokenize=False) == first.apply_chat_template(prompt, tokenize=False)
    assert again("Blue, as if you didn't know.")["input_ids"] == first("Blue, as if you didn't know.")["input_ids"]
    assert (again.eos_token, again.pad_token) == (first.eos_token, first.pad_token)


def test_other_data_or_vocabulary_is_another_tokenizer() -> None:
    key = tokenizer_key(TEXTS, 512)
    assert tokenizer_key(TEXTS, 1024) != key
    assert tokenizer_key([*TEXTS[:-1], TEXTS[-1] + "!"], 512) != key
    assert tokenizer_key(["ab", "c"], 512) != tokenizer_key(["a", "bc"], 512)


def test_a_fresh_preset_trains_as_it_would_loaded_from_disk(tmp_path: Path) -> None:
    import torch

    start_dir, fresh = start_directory("local/tiny", TEXTS, 3, tmp_path / "job", tmp_path / "models")
    assert fresh and (start_dir / "config.json").is_file()
    assert preset_tokenizers(tmp_path / "models") is not None
    model, tokenizer = load_trainable(start_dir, None, None)  # the model just built, never read back
    loaded = load_model(start_dir)
    assert model.training
    assert model is not loaded
    for (name, mine), (_, theirs) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(mine, theirs), name
    reloaded = load_tokenizer(start_dir)
    assert tokenizer("Paris, as if?")["input_ids"] == reloaded("Paris, as if?")["input_ids"]
    assert (tokenizer.padding_side, tokenizer.chat_template) == (reloaded.padding_side, reloaded.chat_template)
    again, _ = load_trainable(start_dir, None, None)  # handed over once; then it loads like any directory
    assert again is not model
