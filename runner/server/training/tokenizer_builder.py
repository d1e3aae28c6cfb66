"""A byte-level BPE tokenizer trained on a job's own text, for presets that have no tokenizer of their own; kept in a
cache by the text's hash, so a job on data seen before reuses the tokenizer trained for it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from runner.server.training.presets import CHATML_TEMPLATE, IM_END, PAD, SPECIAL_TOKENS


def build_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """Train byte-level BPE on `texts` and wrap it as a transformers fast tokenizer with a ChatML chat template.

    Any byte sequence stays encodable (the 256 byte symbols are always in the vocabulary), so prompts that use words
    never seen in training still work; they just cost more tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Role names and the template's own text are part of every example, so they become single tokens.
    scaffold = ["system\n", "user\n", "assistant\n", "tool\n"]
    tok.train_from_iterator([*scaffold, *texts], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD)
    fast.chat_template = CHATML_TEMPLATE
    return fast


# Bump when `build_tokenizer` changes what it builds: cached tokenizers of another format are not reused.
TOKENIZER_FORMAT = 1


def tokenizer_key(texts: Sequence[str], vocab_size: int) -> str:
    """The cache key of the tokenizer `build_tokenizer(texts, vocab_size)` builds: a sha256 of what it is built from."""
    digest = hashlib.sha256(json.dumps([TOKENIZER_FORMAT, vocab_size], separators=(",", ":")).encode())
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def cached_tokenizer(texts: Sequence[str], vocab_size: int, cache_dir: Path | None) -> Any:
    """`build_tokenizer(texts, vocab_size)`, from `cache_dir/<tokenizer_key>` when it was built before (built and
    stored there otherwise); no cache when `cache_dir` is None."""
    if cache_dir is None:
        return build_tokenizer(texts, vocab_size)
    from transformers import PreTrainedTokenizerFast

    entry = cache_dir / tokenizer_key(texts, vocab_size)
    if (entry / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(entry))
        tokenizer.chat_template = CHATML_TEMPLATE
        return tokenizer
    tokenizer = build_tokenizer(texts, vocab_size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        tokenizer.save_pretrained(str(staging))
        os.replace(staging, entry)  # atomic; a job that built the same tokenizer at the same time got there first
    except OSError:
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tokenizer
