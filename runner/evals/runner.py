"""Running a suite: every case's samples sent to the target's chat API concurrently, then scored.

This is the I/O edge of evals: requests go out through the Chat port (a few at a time, the target's limit), the
answers are checked by runner.evals.assertions and summed up by runner.evals.scoring. A request that fails makes its
sample an error; a target that cannot chat with the model at all makes the result "unavailable". Never a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from runner.diagnostics import ProviderError
from runner.evals import assertions
from runner.evals.judges import Chat
from runner.evals.pricing import inference_cost
from runner.evals.records import EvalResult
from runner.evals.scoring import Sample, summarize, unavailable
from runner.evals.suite import Case, Suite
from runner.remote import ChatUnavailable

DEFAULT_CONCURRENCY = 4  # requests in flight at once, per target, unless ftrun.yaml says otherwise
JUDGE_MAX_TOKENS = 32


@dataclass(frozen=True)
class _Unavailable:
    reason: str


def _params(suite: Suite, sample: int) -> dict[str, Any]:
    s = suite.sampling
    params: dict[str, Any] = {"temperature": s.temperature}
    if s.max_tokens is not None:
        params["max_tokens"] = s.max_tokens
    if s.seed is not None:
        params["seed"] = s.seed + sample  # each repeat its own seed, or they would all be the same answer
    return params


def _judge(a: assertions.Assertion, case: Case, answer: str, judges: Mapping[str | None, Chat]) -> assertions.Check:
    assert a.judge is not None
    provider = judges.get(a.judge.target) or judges[None]
    try:
        reply = provider.chat_reply(
            a.judge.model,
            assertions.judge_messages(a.judge, case.messages, answer),
            temperature=0.0,
            max_tokens=JUDGE_MAX_TOKENS,
        )
    except (ProviderError, ChatUnavailable) as e:
        return assertions.Check(False, error=f"the judge {a.judge.model} could not answer: {e}")
    return assertions.check(a, answer, reply.text)


def _sample(
    provider: Chat, model: str, suite: Suite, case: Case, index: int, judges: Mapping[str | None, Chat]
) -> Sample | _Unavailable:
    try:
        reply = provider.chat_reply(model, case.messages, **_params(suite, index))
    except ChatUnavailable as e:
        return _Unavailable(str(e))
    except ProviderError as e:
        return Sample(None, error=str(e))
    checks = tuple(
        _judge(a, case, reply.text, judges) if a.type == "judge" else assertions.check(a, reply.text)
        for a in case.assertions
    )
    return Sample(reply.text, checks, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)


def evaluate(
    provider: Chat,
    suite: Suite,
    model: str,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    judges: Mapping[str, Chat] | None = None,
    free: bool = False,
    clock: Callable[[], float] = time.time,
) -> EvalResult:
    """`suite` against `model` on `provider`, `concurrency` requests at a time (1: one after another).

    `judges` are the providers of the targets judge assertions name (the evaluated target judges otherwise)."""
    by_target: dict[str | None, Chat] = {None: provider}
    by_target.update(judges or {})
    tasks = [(case, i) for case in suite.cases for i in range(suite.sampling.repeat)]

    def run(task: tuple[Case, int]) -> Sample | _Unavailable:
        return _sample(provider, model, suite, task[0], task[1], by_target)

    # The first request goes alone: it loads the model on the target (once, not in every thread at the same time),
    # and says whether the target can chat with the model at all.
    first = [run(tasks[0])] if tasks else []
    if first and isinstance(first[0], _Unavailable):
        return unavailable(suite, model, first[0].reason, now=int(clock()))
    rest = tasks[1:]
    if concurrency <= 1:
        results = first + [run(t) for t in rest]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ftrun-eval") as pool:
            results = first + list(pool.map(run, rest))
    now = int(clock())
    missing = next((r for r in results if isinstance(r, _Unavailable)), None)
    if missing is not None:
        return unavailable(suite, model, missing.reason, now=now)
    samples: dict[str, list[Sample]] = {}
    for (case, _), result in zip(tasks, results, strict=True):
        assert isinstance(result, Sample)
        samples.setdefault(case.id, []).append(result)
    scored = summarize(suite, model, samples, now=now)
    return replace(scored, usd=inference_cost(model, scored.prompt_tokens, scored.completion_tokens, free=free))
