"""What an evaluation leaves in state: a suite's result for one model, and the aliases that point at runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CaseOutcome:
    """How one case fared over its samples (the digest a comparison of two models reads)."""

    id: str  # sha256 of the case's messages and assertions, shortened
    label: str  # the question it asks, shortened, for people
    samples: int
    passed: int
    errors: int = 0
    score: float | None = None  # mean score of its scored assertions, when it has any

    @property
    def pass_rate(self) -> float | None:
        judged = self.samples - self.errors
        return self.passed / judged if judged else None

    @property
    def ok(self) -> bool:
        """Every sample passed."""
        return self.errors == 0 and self.passed == self.samples


@dataclass(frozen=True)
class EvalResult:
    """One suite run against one model, keyed by the suite's content and sampling (`key`)."""

    suite: str
    key: str
    model: str
    available: bool = True  # False: the target cannot chat with this model (`reason` says why)
    reason: str | None = None
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    pass_rate: float | None = None
    mean_score: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float | None = None
    evaluated_at: int = 0
    outcomes: tuple[CaseOutcome, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> EvalResult:
        outcomes = tuple(CaseOutcome(**o) for o in data.get("outcomes") or ())
        return EvalResult(**{**data, "outcomes": outcomes})


@dataclass(frozen=True)
class AliasRecord:
    """A named pointer at one run of an experiment (`marv@prod`)."""

    job_id: str
    since: int
    scores: Mapping[str, float | None] = field(default_factory=dict)  # suite -> the run's pass rate when it moved
    pinned: bool = False
    sweep: str | None = None  # `pick: best`: the alias is the sweep's (SWEEP@alias), held by this variant's run

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["sweep"] is None:
            del d["sweep"]
        return d

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> AliasRecord:
        return AliasRecord(
            job_id=data["job_id"],
            since=int(data.get("since") or 0),
            scores=dict(data.get("scores") or {}),
            pinned=bool(data.get("pinned")),
            sweep=data.get("sweep"),
        )
