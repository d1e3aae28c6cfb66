"""Getting a worker ready to train before its first job: import torch, transformers, peft and tokenizers, configure
torch, and run one optimizer step of a very small model, so that a job pays none of that on its way to its first
step (the imports alone take seconds)."""

from __future__ import annotations

from typing import Any


def warm_up() -> None:
    import peft  # noqa: F401  (LoRA jobs)
    import tokenizers  # noqa: F401  (preset tokenizers)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM  # noqa: F401

    from runner.server.training import trainer  # noqa: F401  (and everything it imports)
    from runner.server.training.runtime import configure_torch, device

    configure_torch()
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    model: Any = LlamaForCausalLM(config)
    model.to(device())
    optimizer = torch.optim.AdamW(model.parameters())
    ids = torch.arange(8, device=model.device).unsqueeze(0)
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
