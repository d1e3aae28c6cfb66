"""Assertions, judge scores, scoring and the promotion gate: the pure parts of evals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.evals import assertions as a
from runner.evals.gate import Promotion, decide
from runner.evals.records import CaseOutcome, EvalResult
from runner.evals.scoring import Sample, summarize
from runner.evals.suite import Case, Sampling, Suite


def check(raw: object, answer: str, judge_reply: str | None = None) -> a.Check:
    return a.check(a.parse(raw), answer, judge_reply)


@pytest.mark.parametrize(
    ("raw", "answer", "passed"),
    [
        ({"type": "equals", "value": "Paris"}, " Paris\n", True),
        ({"type": "equals", "value": "Paris"}, "paris", False),
        ({"type": "contains", "value": "Paris"}, "It is Paris, obviously.", True),
        ({"type": "contains", "value": "Paris"}, "It is paris.", False),
        ({"type": "icontains", "value": "PARIS"}, "it is paris.", True),
        ({"type": "not-contains", "value": "sorry"}, "Paris.", True),
        ({"type": "not-contains", "value": "sorry"}, "sorry, Paris.", False),
        ({"type": "regex", "value": r"\b(7|seven)\b"}, "There are seven.", True),
        ({"type": "regex", "value": r"\b(7|seven)\b"}, "There are 17.", False),
        ("json", '{"a": 1}', True),
        ("json", "{a: 1}", False),
        ({"type": "json", "schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', True),
        ({"type": "json", "schema": {"type": "object", "required": ["a"]}}, '{"b": 1}', False),
        ({"type": "similar", "value": "Paris, obviously.", "threshold": 0.8}, "Paris, obviously!", True),
        ({"type": "similar", "value": "Paris, obviously.", "threshold": 0.8}, "Berlin is a city.", False),
        ({"type": "contains", "value": "巴黎"}, "巴黎，好像谁不知道似的。", True),
    ],
)
def test_each_assertion_type_passes_and_fails(raw: object, answer: str, passed: bool) -> None:
    assert check(raw, answer).passed is passed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "contans", "value": "x"}, "did you mean 'contains'"),
        ({"type": "regex", "value": "(unclosed"}, "bad regex"),
        ({"type": "similar"}, "needs a `value`"),
        ({"type": "similar", "value": "x", "threshold": 2}, "threshold"),
        ({"type": "json", "schema": {"type": "nonsense"}}, "not a valid JSON Schema"),
        ({"type": "judge"}, "judge: {model:, rubric:}"),
        ({"type": "contains", "value": "x", "colour": "red"}, "unknown key(s)"),
        (42, "must be a mapping"),
    ],
)
def test_bad_assertions_say_what_is_wrong(raw: object, message: str) -> None:
    with pytest.raises(a.InvalidAssertion, match=None) as e:
        a.parse(raw)
    assert message in str(e.value)


JUDGE = {"type": "judge", "judge": {"model": "grader", "rubric": "Sarcastic and right.", "pass_score": 7}}


def test_a_judge_grades_by_the_score_in_its_reply_and_nonsense_is_an_error() -> None:
    assert check(JUDGE, "Paris.", "SCORE: 8").passed
    assert check(JUDGE, "Paris.", "Score = 8.5 because it is sarcastic").score == 0.85
    assert check(JUDGE, "Paris.", "7/10").passed
    assert not check(JUDGE, "Paris.", "3").passed
    nonsense = check(JUDGE, "Paris.", "I like turtles")
    assert not nonsense.passed and nonsense.error and "no score" in nonsense.error
    out_of_range = check(JUDGE, "Paris.", "SCORE: 42")
    assert out_of_range.error is not None


@given(st.text(max_size=200))
def test_judge_score_never_fails_and_stays_in_range(reply: str) -> None:
    score = a.judge_score(reply)
    assert score is None or 0 <= score <= a.JUDGE_SCALE


def _suite(n: int) -> Suite:
    cases = tuple(
        Case(f"c{i}", f"question {i}", ({"role": "user", "content": f"q{i}"},), (a.parse("json"),)) for i in range(n)
    )
    return Suite("s", "evals/s.yaml", cases, Sampling(repeat=2), "content")


def test_scoring_counts_errors_apart_and_rates_decided_samples() -> None:
    suite = _suite(3)
    ok, bad, err = Sample("{}", (a.Check(True),)), Sample("x", (a.Check(False),)), Sample(None, error="boom")
    result = summarize(suite, "m", {"c0": [ok, ok], "c1": [ok, bad], "c2": [err, ok]}, now=1)
    assert (result.cases, result.passed, result.failed, result.errors) == (3, 1, 1, 1)
    assert result.pass_rate == round(4 / 5, 4)  # the errored sample is not counted either way
    assert [o.pass_rate for o in result.outcomes] == [1.0, 0.5, 1.0]


def _result(rate: float | None) -> EvalResult:
    return EvalResult("s", "k", "m", pass_rate=rate, outcomes=(CaseOutcome("c", "q", 1, 1),))


def test_the_gate_passes_blocks_and_gives_the_figures() -> None:
    rule = Promotion("prod", "s", min_pass_rate=0.8, no_regression=True)
    low = decide(rule, _result(0.62), _result(0.81))
    assert not low.passed
    assert low.figures == "pass rate 0.62 < 0.80; regression: 0.62 < 0.81; prod holds 0.81"
    regress = decide(rule, _result(0.85), _result(0.9))
    assert not regress.passed and "regression: 0.85 < 0.90" in regress.figures
    assert decide(rule, _result(0.85), _result(0.81)).passed
    assert decide(rule, _result(0.85), None).passed  # nobody holds prod yet
    assert not decide(rule, None, None).passed
    lenient = Promotion("prod", "s", min_pass_rate=0.8)
    assert decide(lenient, _result(0.85), _result(0.9)).passed


def test_an_evaluation_costs_what_its_tokens_cost_on_a_paid_target_and_nothing_on_a_free_one() -> None:
    from runner.evals.pricing import inference_cost

    model = "ft:gpt-4.1-mini-2025-04-14:org:marv:abc123"
    assert inference_cost(model, 1_000_000, 1_000_000, free=False) == 0.80 + 3.20
    assert inference_cost(model, 500, 100, free=True) == 0.0
    assert inference_cost("gpt-4.1-mini-2025-04-14", 500, 100, free=False) is None  # a base model: not priced here
    assert inference_cost("ft:unknown-model:org::x", 500, 100, free=False) is None


def test_the_runner_keeps_at_most_its_limit_in_flight_and_scores_as_one_at_a_time_does() -> None:
    import threading
    import time

    from fakes import FakeProvider

    from runner.evals.runner import evaluate

    remote, lock = FakeProvider(), threading.Lock()
    flight = {"now": 0, "most": 0}

    def answer(messages: object) -> str:
        with lock:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        time.sleep(0.01)
        with lock:
            flight["now"] -= 1
        return "{}" if "1" in str(messages) else "not json"

    remote.replies["m"] = answer
    suite = _suite(12)
    concurrent = evaluate(remote, suite, "m", concurrency=3)
    assert 1 < flight["most"] <= 3
    flight["most"] = 0
    sequential = evaluate(remote, suite, "m", concurrency=1)
    assert flight["most"] == 1
    assert concurrent.outcomes == sequential.outcomes and concurrent.pass_rate == sequential.pass_rate
    assert remote.chat_calls == 2 * 12 * 2  # 12 cases × 2 samples, twice
    assert evaluate(remote, suite, "base-model").available is False  # the fake cannot chat with a base model
