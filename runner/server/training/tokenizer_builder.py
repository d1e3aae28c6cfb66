"""A byte-level BPE tokenizer trained on a job's own text, for presets that have no tokenizer of their own."""

from __future__ import annotations

from collections.abc import Iterable
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
