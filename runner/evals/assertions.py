"""Assertions: what an answer must satisfy. Parsing (with a clear message for a bad one) and checking are pure.

A `judge` assertion is graded by a judge model: the eval runner asks it (`judge_messages`) and hands its reply to
`check`, which parses a score from it; a reply with no score is an *error*, counted apart from failures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TYPES = ("equals", "contains", "icontains", "not-contains", "regex", "json", "similar", "judge")
NEEDS_VALUE = ("equals", "contains", "icontains", "not-contains", "regex", "similar")
DEFAULT_SIMILAR_THRESHOLD = 0.8
JUDGE_SCALE = 10  # the judge scores 0..JUDGE_SCALE
DEFAULT_PASS_SCORE = 7.0


class InvalidAssertion(ValueError):
    """An assertion that cannot be checked; the message says what is wrong with it."""


@dataclass(frozen=True)
class Judge:
    model: str
    rubric: str
    target: str | None = None  # default: the target being evaluated
    pass_score: float = DEFAULT_PASS_SCORE


@dataclass(frozen=True)
class Assertion:
    type: str
    value: str | None = None
    threshold: float | None = None  # similar: the least similarity (0..1) that passes
    schema: Mapping[str, Any] | None = None  # json: a JSON Schema the answer must satisfy
    judge: Judge | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key in ("value", "threshold", "schema"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.judge is not None:
            j = self.judge
            out["judge"] = {"model": j.model, "rubric": j.rubric, "target": j.target, "pass_score": j.pass_score}
        return out


@dataclass(frozen=True)
class Check:
    """One assertion on one answer: passed, or failed; `error` when it could not be decided (a judge's nonsense)."""

    passed: bool
    score: float | None = None  # 0..1, for scored assertions (similar, judge)
    error: str | None = None
    detail: str = field(default="", compare=False)


def _close(name: str) -> str:
    import difflib

    match = difflib.get_close_matches(name, TYPES, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def parse(raw: Any) -> Assertion:
    """An assertion from its YAML or JSON form: {type: contains, value: Paris}, or a bare type name ("json")."""
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise InvalidAssertion(f"an assertion must be a mapping with a `type`, found {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise InvalidAssertion(f"an assertion needs a `type` (one of {', '.join(TYPES)})")
    if kind not in TYPES:
        raise InvalidAssertion(f"unknown assertion type '{kind}'{_close(kind)}; known: {', '.join(TYPES)}")
    known = {"type", "value", "threshold", "schema", "judge"}
    extra = sorted(str(k) for k in raw if k not in known)
    if extra:
        raise InvalidAssertion(f"unknown key(s) in a {kind} assertion: {', '.join(extra)}")
    value = raw.get("value")
    if kind in NEEDS_VALUE:
        if not isinstance(value, str) or (kind != "equals" and not value):
            raise InvalidAssertion(f"a {kind} assertion needs a `value` (a string)")
    elif value is not None:
        raise InvalidAssertion(f"a {kind} assertion takes no `value`")
    if kind == "regex":
        assert isinstance(value, str)
        try:
            re.compile(value)
        except re.error as e:
            raise InvalidAssertion(f"bad regex {value!r}: {e}") from None
    threshold = raw.get("threshold")
    if threshold is not None and (kind != "similar" or not _number(threshold) or not 0 <= threshold <= 1):
        raise InvalidAssertion("`threshold` belongs to a similar assertion and is a number from 0 to 1")
    schema = raw.get("schema")
    if schema is not None:
        if kind != "json" or not isinstance(schema, Mapping):
            raise InvalidAssertion("`schema` belongs to a json assertion and is a JSON Schema (a mapping)")
        import jsonschema  # only for suites that have a schema to check

        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise InvalidAssertion(f"the json assertion's schema is not a valid JSON Schema: {e.message}") from None
    judge = _judge(raw.get("judge")) if kind == "judge" else None
    if kind != "judge" and raw.get("judge") is not None:
        raise InvalidAssertion("`judge` belongs to a judge assertion")
    return Assertion(
        kind,
        value=value,
        threshold=float(threshold)
        if threshold is not None
        else (DEFAULT_SIMILAR_THRESHOLD if kind == "similar" else None),
        schema=dict(schema) if schema is not None else None,
        judge=judge,
    )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _judge(raw: Any) -> Judge:
    if not isinstance(raw, Mapping):
        raise InvalidAssertion("a judge assertion needs `judge: {model:, rubric:}` (and optionally target, pass_score)")
    extra = sorted(str(k) for k in raw if k not in ("model", "rubric", "target", "pass_score"))
    if extra:
        raise InvalidAssertion(f"unknown key(s) in `judge`: {', '.join(extra)}")
    model, rubric, target = raw.get("model"), raw.get("rubric"), raw.get("target")
    if not isinstance(model, str) or not model:
        raise InvalidAssertion("`judge.model` must name the model that grades (a string)")
    if not isinstance(rubric, str) or not rubric.strip():
        raise InvalidAssertion("`judge.rubric` must say what a good answer is (a string)")
    if target is not None and not isinstance(target, str):
        raise InvalidAssertion("`judge.target` must name a target of ftrun.yaml")
    pass_score = raw.get("pass_score", DEFAULT_PASS_SCORE)
    if not _number(pass_score) or not 0 <= pass_score <= JUDGE_SCALE:
        raise InvalidAssertion(f"`judge.pass_score` is a number from 0 to {JUDGE_SCALE}")
    return Judge(model=model, rubric=rubric, target=target, pass_score=float(pass_score))


def similarity(answer: str, expected: str) -> float:
    """0..1: rapidfuzz's normalised Indel similarity of the two texts, ignoring case and surrounding space."""
    from rapidfuzz import fuzz  # only where answers are scored

    return float(fuzz.ratio(answer.strip().casefold(), expected.strip().casefold())) / 100.0


def judge_messages(judge: Judge, question: Sequence[Mapping[str, Any]], answer: str) -> list[dict[str, str]]:
    """What the judge model is asked: the rubric, the conversation and the answer; it replies with a score."""
    asked = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in question)
    return [
        {
            "role": "system",
            "content": "You grade answers against a rubric. Reply with one line: SCORE: <a number from 0 to "
            f"{JUDGE_SCALE}>, where {JUDGE_SCALE} fully meets the rubric and 0 does not meet it at all.",
        },
        {"role": "user", "content": f"Rubric:\n{judge.rubric}\n\nConversation:\n{asked}\n\nAnswer to grade:\n{answer}"},
    ]


_SCORE = re.compile(r"score\s*[:=]\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_BARE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*\.?\s*")


def judge_score(reply: str) -> float | None:
    """The score in a judge's reply ("SCORE: 8", or just "8" / "8/10"), or None when it holds none in range."""
    found = _SCORE.search(reply)
    text = found.group(1) if found else (m.group(1) if (m := _BARE.fullmatch(reply)) else None)
    if text is None:
        return None
    score = float(text)
    return score if 0 <= score <= JUDGE_SCALE else None


def check(a: Assertion, answer: str, judge_reply: str | None = None) -> Check:
    """Whether `answer` satisfies `a` (for a judge assertion, as `judge_reply` grades it)."""
    match a.type:
        case "equals":
            return Check(answer.strip() == (a.value or "").strip())
        case "contains":
            return Check((a.value or "") in answer)
        case "icontains":
            return Check((a.value or "").casefold() in answer.casefold())
        case "not-contains":
            return Check((a.value or "") not in answer)
        case "regex":
            return Check(re.search(a.value or "", answer) is not None)
        case "json":
            try:
                value = json.loads(answer)
            except ValueError as e:
                return Check(False, detail=f"not JSON: {e}")
            if a.schema is not None:
                import jsonschema

                problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(a.schema).iter_errors(value))
                if problem is not None:
                    return Check(False, detail=problem.message)
            return Check(True)
        case "similar":
            score = similarity(answer, a.value or "")
            threshold = a.threshold if a.threshold is not None else DEFAULT_SIMILAR_THRESHOLD
            return Check(score >= threshold, score=round(score, 4), detail=f"similarity {score:.2f}")
        case "judge":
            assert a.judge is not None
            if judge_reply is None:
                return Check(False, error="the judge gave no reply")
            judged = judge_score(judge_reply)
            if judged is None:
                shown = judge_reply.strip().replace("\n", " ")[:80]
                return Check(False, error=f"the judge's reply holds no score: {shown!r}")
            return Check(
                judged >= a.judge.pass_score, score=round(judged / JUDGE_SCALE, 4), detail=f"judged {judged:g}"
            )
    raise InvalidAssertion(f"unknown assertion type '{a.type}'")  # parse() lets none through
