"""Concurrent chat requests for one model answered by one batched `generate`.

A request is one or more *rows*, each one sequence to generate: a greedy request is one row whatever its `n` (every
choice would be the same), a sampled one has a row per choice. Requests queue their rows; one generation thread takes
the oldest waiting row and every other row waiting for the same model (at most `MAX_BATCH_ROWS`), left-pads their
prompts, runs one `generate` and hands each row's tokens to its request as they come out, so streamed answers stream
from a batch too. Rows that arrive while a batch runs wait for the next one.

Every row gets the answer it would get alone: generation runs greedy over the whole batch, and a sampled row draws
its token from its own logits with its own seeded `torch.Generator` (`RowSampling`), so a seeded answer does not
depend on what it was batched with. Each row stops on its own (eos, its `max_tokens`, or when its reader cancels it);
the batch ends when every row has.

Imported only from `inference`, which the server imports lazily: this module imports torch and transformers up front,
so concurrent first requests never race through transformers' lazy imports.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

log = logging.getLogger("runner.server")

MAX_BATCH_ROWS = 16  # sequences per `generate`; more waiting rows go into the next batch
# How long the generation thread waits for more rows when fewer are waiting than the previous batch had: the clients
# whose answers just came back are likely sending their next requests. A lone client never waits.
GATHER_SECONDS = 0.02

# What a row's reader receives: (choice index, tokens) as they are generated (one at a time for a streamed row, all
# at once when the row ends otherwise), (choice index, None) when the row has ended, or the exception that ended the
# batch.
Item = tuple[int, list[int] | None] | BaseException


@dataclass(eq=False)
class Row:
    model: Any  # rows batch together only with rows of the same loaded model
    choice: int  # the choice index this row answers
    prompt: list[int]
    max_tokens: int
    stop_ids: frozenset[int]
    pad_token_id: int
    sink: queue.Queue[Item]  # shared by the rows of one request
    streamed: bool = False  # hand over each token as it comes (else all of them when the row ends)
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    generator: torch.Generator | None = None  # sampled rows only
    cancelled: threading.Event = field(default_factory=threading.Event)  # set by the reader: stop this row
    produced: int = 0
    tokens: list[int] = field(default_factory=list)  # generated, not yet handed over
    done: bool = False

    def add(self, token: int) -> None:
        self.tokens.append(token)
        self.produced += 1
        if self.streamed:
            self.sink.put((self.choice, self.tokens))
            self.tokens = []

    def end(self) -> None:
        if not self.done:
            self.done = True
            if self.tokens:
                self.sink.put((self.choice, self.tokens))
            self.sink.put((self.choice, None))


def sampler(device: Any, seed: int | None) -> torch.Generator:
    """A row's own random generator: from `seed`, or from fresh entropy."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class RowSampling(LogitsProcessor):
    """Per row: a greedy row's scores pass through; a sampled row's token is drawn (temperature, top-p, its own
    generator) and its scores become that token alone, which the batch's argmax then picks."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for i, row in enumerate(self.rows):
            if row.temperature == 0 or row.done:
                continue
            logits = scores[i].float() / row.temperature
            if row.top_p < 1.0:
                ordered, order = torch.sort(logits)
                cumulative = ordered.softmax(-1).cumsum(-1)
                drop = cumulative <= 1 - row.top_p
                drop[-1] = False  # the most likely token always stays
                logits[order[drop]] = -float("inf")
            token = torch.multinomial(logits.softmax(-1), 1, generator=row.generator)
            chosen = torch.full_like(scores[i], -float("inf"))
            chosen[token] = 0.0
            scores[i] = chosen
        return scores


class RowLimits(StoppingCriteria):
    """Stops each row on its own: when it has ended (eos or its `max_tokens`) or its reader cancelled it."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = [row.done or row.cancelled.is_set() for row in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class RowSink:
    """transformers' streamer interface: the prompts first, then one token per row at each step."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for row, token in zip(self.rows, value.reshape(-1).tolist(), strict=True):
            if row.done:
                continue
            if row.cancelled.is_set():
                row.end()
                continue
            row.add(int(token))
            if int(token) in row.stop_ids or row.produced >= row.max_tokens:
                row.end()

    def end(self) -> None:
        for row in self.rows:
            row.end()


def run_batch(rows: list[Row]) -> None:
    """One left-padded `generate` over `rows` (all of one model)."""
    model = rows[0].model
    width = max(len(r.prompt) for r in rows)
    pad = rows[0].pad_token_id
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row.prompt) :] = torch.tensor(row.prompt, dtype=torch.long)
        attention_mask[i, width - len(row.prompt) :] = 1
    stop_ids = sorted(set().union(*(r.stop_ids for r in rows)))
    config = GenerationConfig(
        max_new_tokens=max(r.max_tokens for r in rows),
        do_sample=False,
        temperature=None,
        top_p=None,
        top_k=None,
        eos_token_id=stop_ids,
        pad_token_id=pad,
    )
    with torch.no_grad():
        model.generate(
            input_ids=input_ids.to(model.device),
            attention_mask=attention_mask.to(model.device),
            generation_config=config,
            logits_processor=LogitsProcessorList([RowSampling(rows)]),
            stopping_criteria=StoppingCriteriaList([RowLimits(rows)]),
            streamer=RowSink(rows),
        )


class Batcher:
    """The queue of waiting rows and the thread that generates them, batch after batch."""

    def __init__(self, max_rows: int = MAX_BATCH_ROWS) -> None:
        self.max_rows = max_rows
        self._waiting: deque[Row] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._last_batch = 0
        self._running: list[Row] = []  # the batch under way
        self._stopping = False

    def submit(self, rows: list[Row]) -> None:
        with self._ready:
            if self._stopping:
                raise RuntimeError("generation has stopped: the process is exiting")
            self._waiting.extend(rows)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ftrun-generate", daemon=True)
                self._thread.start()
            self._ready.notify()

    def _take(self) -> list[Row]:
        with self._ready:
            while True:
                for row in [r for r in self._waiting if r.cancelled.is_set()]:  # their readers have left
                    self._waiting.remove(row)
                    row.end()
                if self._waiting and not self._stopping:
                    break
                self._ready.wait()
            deadline = time.monotonic() + GATHER_SECONDS
            wanted = min(self._last_batch, self.max_rows)
            while len(self._waiting) < wanted and (left := deadline - time.monotonic()) > 0:
                self._ready.wait(left)
            model = self._waiting[0].model
            batch = [r for r in self._waiting if r.model is model][: self.max_rows]
            for row in batch:
                self._waiting.remove(row)
            self._last_batch = len(batch)
            self._running = batch
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            try:
                run_batch(batch)
            except BaseException as exc:  # handed to each reader, which raises it in its request's thread
                log.exception("batched generation failed")
                for row in batch:
                    if not row.done:
                        row.done = True
                        row.sink.put(exc)
            finally:
                for row in batch:
                    row.end()
                with self._ready:
                    self._running = []
                    self._ready.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every row and wait (at most `timeout` seconds) for the batch under way to end; no batch starts
        after. Run at exit: a process that exits while torch generates in this thread is aborted by the C++ runtime
        (a reader that got its last token returns before `generate` does, or left without reading to the end)."""
        with self._ready:
            self._stopping = True
            for row in [*self._waiting, *self._running]:
                row.cancelled.set()
            self._ready.notify_all()
            self._ready.wait_for(lambda: not self._running, timeout)


batcher = Batcher()
atexit.register(batcher.stop)
