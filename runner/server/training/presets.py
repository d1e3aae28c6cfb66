"""Built-in base models: small architectures built from a config, for offline use and tests.

A preset has no weights and no tokenizer on disk: the job builds a byte-level BPE tokenizer from its own training
text, then a randomly initialised model sized to that vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

# ChatML-style turns. The end-of-turn marker is the tokenizer's eos token, so decoding stops after an answer.
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|endoftext|>"
SPECIAL_TOKENS = (PAD, IM_START, IM_END)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Preset:
    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    vocab_size: int  # the BPE trainer's target; small data yields fewer tokens
    base_learning_rate: float  # full fine-tuning; LoRA uses its own (see hyperparameters)
    init_std: float  # weight init; wider than the usual 0.02, which makes a from-scratch model memorise far faster


PRESETS: dict[str, Preset] = {
    "local/tiny": Preset(
        name="local/tiny",
        hidden_size=256,
        num_layers=4,
        num_heads=8,
        intermediate_size=1024,
        max_positions=1024,
        vocab_size=4096,
        base_learning_rate=5e-4,
        init_std=0.2,
    ),
}


def get_preset(name: str) -> Preset | None:
    return PRESETS.get(name)
