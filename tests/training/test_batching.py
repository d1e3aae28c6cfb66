"""Length-grouped batch order and the packed layout: pure functions, checked without a model."""

from __future__ import annotations

import random

from runner.server.training.batching import (
    BUCKET_BATCHES,
    collate,
    collate_packed,
    epoch_batches,
    pack_rows,
    steps_per_epoch,
)
from runner.server.training.encoding import IGNORE, Encoded


def _lengths(n: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(10, 300) for _ in range(n)]


def _padding(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


def test_every_example_once_per_epoch_in_the_usual_number_of_steps() -> None:
    lengths = _lengths(101)
    for batch_size in (1, 4, 7, 200):
        batches = epoch_batches(lengths, batch_size, seed=3, epoch=0)
        assert sorted(i for b in batches for i in b) == list(range(101))
        assert len(batches) == steps_per_epoch(101, batch_size)
        assert all(1 <= len(b) <= batch_size for b in batches)


def test_the_order_depends_only_on_seed_and_epoch() -> None:
    lengths = _lengths(64)
    assert epoch_batches(lengths, 4, 3, 1) == epoch_batches(list(lengths), 4, 3, 1)
    assert epoch_batches(lengths, 4, 3, 1) != epoch_batches(lengths, 4, 3, 2)
    assert epoch_batches(lengths, 4, 3, 1) != epoch_batches(lengths, 4, 4, 1)


def test_grouping_by_length_pads_far_less_than_a_plain_shuffle() -> None:
    lengths = _lengths(256)
    order = list(range(256))
    random.Random(0).shuffle(order)
    plain = [order[i : i + 8] for i in range(0, 256, 8)]
    grouped = epoch_batches(lengths, 8, seed=0, epoch=0)
    assert _padding(lengths, grouped) < 0.25 * _padding(lengths, plain)
    # Still shuffled: the batches are not in length order, and buckets mix across the epoch.
    firsts = [lengths[b[0]] for b in grouped]
    assert firsts != sorted(firsts)
    assert len(grouped) > BUCKET_BATCHES


def test_pack_rows_fills_rows_up_to_the_width_and_never_splits_an_example() -> None:
    lengths = [300, 200, 150, 120, 100, 90, 40]
    rows = pack_rows(lengths, row_tokens=400)
    assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in r) <= 400 for r in rows)
    assert len(rows) == -(-sum(lengths) // 400)  # first fit decreasing is optimal here
    assert pack_rows([900, 10], row_tokens=400) == [[0], [1]]  # a long example gets a row of its own width


def test_packed_positions_restart_and_no_example_learns_from_the_one_before() -> None:
    a = Encoded([5, 6, 7, 8], [IGNORE, IGNORE, 7, 8])
    b = Encoded([9, 10, 11], [9, 10, 11])  # labelled from its first token: that label cannot be learnt in context
    packed = collate_packed([a, b], pad_id=0)
    assert packed.attention_mask is None
    assert packed.input_ids.tolist() == [[5, 6, 7, 8, 9, 10, 11]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert packed.labels.tolist() == [[IGNORE, IGNORE, 7, 8, IGNORE, 10, 11]]
    padded = collate([a, b], pad_id=0)
    assert packed.tokens == padded.tokens == 7
    assert packed.computed_tokens == 7 < padded.computed_tokens == 8
