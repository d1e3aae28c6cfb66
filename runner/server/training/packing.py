"""Whether a model keeps packed examples apart, checked on the model itself before a job trains on packed batches.

Packing (see `batching`) relies on the model reading restarting position ids as separate sequences: transformers'
masking does so for the models built on its shared masks (Llama, Qwen, Mistral, SmolLM and most others) with the
sdpa, eager and flash attention implementations. A model that does not would let examples attend to each other.
Rather than keep a list of architectures, the job runs two short sequences through the model once packed and once
apart; only if every logit agrees does it pack, otherwise it pads (length-grouped).
"""

from __future__ import annotations

from typing import Any

from runner.server.training.batching import collate, collate_packed, pack_rows
from runner.server.training.encoding import Encoded

PROBE_LENGTHS = (5, 7)


def _tolerance(model: Any) -> float:
    import torch

    return 1e-3 if model.dtype == torch.float32 else 5e-2


def keeps_packed_examples_apart(model: Any, pad_id: int) -> bool:
    import torch

    vocab_size = int(model.get_input_embeddings().num_embeddings)

    generator = torch.Generator().manual_seed(0)
    examples = [
        Encoded(ids, ids)
        for ids in (torch.randint(0, vocab_size, (n,), generator=generator).tolist() for n in PROBE_LENGTHS)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            packed = collate_packed(examples, pad_id).on(model)
            together = model(**packed.model_inputs()).logits[0].float()
            (row,) = pack_rows(PROBE_LENGTHS)
            apart = [model(**collate([examples[i]], pad_id).on(model).model_inputs()).logits[0].float() for i in row]
    except (RuntimeError, ValueError, TypeError):  # a model whose forward pass refuses position ids without a mask
        return False
    finally:
        model.train(was_training)
    return bool(torch.allclose(together, torch.cat(apart), atol=_tolerance(model), rtol=_tolerance(model)))
