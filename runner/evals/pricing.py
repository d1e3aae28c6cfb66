"""What an evaluation costs: fine-tuned models' inference prices (OpenAI's, USD per 1M tokens in and out).

A free target (the built-in server) costs nothing; a model with no known price (a base model, another host's model)
has an unknown cost (None), never a guessed one.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.datasets.tokens import base_model, model_alias

# Fine-tuned model inference, by the base snapshot it was trained from: (input, output) USD per 1M tokens.
FINE_TUNED_INFERENCE_PER_1M: Mapping[str, tuple[float, float]] = {
    "gpt-4.1-2025-04-14": (3.00, 12.00),
    "gpt-4.1-mini-2025-04-14": (0.80, 3.20),
    "gpt-4.1-nano-2025-04-14": (0.20, 0.80),
    "gpt-4o-2024-08-06": (3.75, 15.00),
    "gpt-4o-mini-2024-07-18": (0.30, 1.20),
    "gpt-3.5-turbo": (3.00, 6.00),
    "davinci-002": (12.00, 12.00),
    "babbage-002": (1.60, 1.60),
    "o4-mini-2025-04-16": (4.00, 16.00),
}


def inference_cost(model: str, prompt_tokens: int, completion_tokens: int, *, free: bool) -> float | None:
    """USD for answering with `model`: 0 on a free target, None when its price is not known."""
    if free:
        return 0.0
    if not model.startswith("ft:"):
        return None
    price = FINE_TUNED_INFERENCE_PER_1M.get(base_model(model)) or FINE_TUNED_INFERENCE_PER_1M.get(model_alias(model))
    if price is None:
        return None
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000, 6)
