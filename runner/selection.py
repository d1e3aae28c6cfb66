"""Selection: which experiments a command acts on (`--select` / `-s` and `--exclude`).

A selector is a name (`marv`), a glob (`marv*`), a label (`label:chat`), or a name with `+` for a chain: `+name` is
the experiment and everything it builds on, `name+` the experiment and everything built on it. Several selectors are
a union; `--exclude` (the same forms) takes experiments away. A selector that matches nothing is an error naming it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from runner.chains import reachable
from runner.diagnostics import FtrunError

F = TypeVar("F", bound=Callable[..., Any])

LABEL_PREFIX = "label:"


@dataclass(frozen=True)
class Candidate:
    """An experiment that can be selected: from a spec, or only from state (its spec removed)."""

    name: str
    labels: tuple[str, ...] = ()
    sweep: str | None = None  # a variant of a `matrix:`: the spec's own name, which selects every variant
    moved_from: str | None = None  # a rename: the old name and the new go together


@dataclass(frozen=True)
class Selection:
    """What the selectors asked for and the experiments they chose (`names`), for plans and their renderings."""

    selectors: tuple[str, ...]
    excludes: tuple[str, ...]
    names: tuple[str, ...]  # sorted

    def __contains__(self, name: object) -> bool:
        return name in self.names

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Selection:
        """A selection as a saved plan records it."""
        return Selection(
            tuple(doc.get("selectors") or ()), tuple(doc.get("excludes") or ()), tuple(sorted(doc.get("names") or ()))
        )

    def describe(self) -> str:
        """`-s marv -s label:chat --exclude marv-quick`"""
        parts = [f"-s {s}" for s in self.selectors] + [f"--exclude {e}" for e in self.excludes]
        return " ".join(parts)


def no_dependencies(name: str) -> tuple[str, ...]:
    """The experiments `name` builds on: none until specs can name another experiment as their model."""
    return ()


def matches(
    selector: str,
    candidates: Sequence[Candidate],
    upstream: Callable[[str], Iterable[str]] = no_dependencies,
) -> set[str]:
    """The names one selector picks out of `candidates`."""
    names = {c.name for c in candidates}
    if selector.startswith(LABEL_PREFIX):
        label = selector[len(LABEL_PREFIX) :]
        return {c.name for c in candidates if label in c.labels}
    before, after = selector.startswith("+"), selector.endswith("+") and len(selector) > 1
    core = selector[1 if before else 0 : len(selector) - 1 if after else len(selector)]
    base = {c.name for c in candidates if _named(c.name, core) or (c.sweep is not None and _named(c.sweep, core))}
    out = set(base)
    if before:
        for n in base:
            out |= reachable(n, upstream) & names
    if after:

        def downstream(n: str) -> list[str]:
            return [m for m in names if n in upstream(m)]

        for n in base:
            out |= reachable(n, downstream)
    return out


def _named(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if any(ch in pattern for ch in "*?[") else name == pattern


def select(
    selectors: Sequence[str],
    excludes: Sequence[str],
    candidates: Sequence[Candidate],
    upstream: Callable[[str], Iterable[str]] = no_dependencies,
) -> Selection | None:
    """The experiments chosen by `selectors` less those of `excludes`; None when no selector narrows anything."""
    if not selectors and not excludes:
        return None
    chosen: set[str] = set()
    unmatched = []
    for s in selectors:
        found = matches(s, candidates, upstream)
        if not found:
            unmatched.append(s)
        chosen |= found
    if not selectors:
        chosen = {c.name for c in candidates}
    for e in excludes:
        found = matches(e, candidates, upstream)
        if not found:
            unmatched.append(e)
        chosen -= found
    for c in candidates:  # a rename is one experiment under two names: selecting either selects both
        if c.moved_from is not None and (c.name in chosen or c.moved_from in chosen):
            chosen |= {c.name, c.moved_from} & {x.name for x in candidates}
    if unmatched:
        known = ", ".join(sorted({c.name for c in candidates})) or "none"
        raise FtrunError(
            f"no experiment matches {', '.join(repr(u) for u in unmatched)} (experiments: {known})",
            hint="select by name, glob (marv*), label (label:chat), or +name / name+ for what a chain builds on",
        )
    if not chosen:
        raise FtrunError(f"the selection {_describe(selectors, excludes)} leaves no experiment")
    return Selection(tuple(selectors), tuple(excludes), tuple(sorted(chosen)))


def _describe(selectors: Sequence[str], excludes: Sequence[str]) -> str:
    return Selection(tuple(selectors), tuple(excludes), ()).describe()


def candidates_of(specs: Iterable[Candidate], state_experiments: Mapping[str, Mapping[str, Any]]) -> list[Candidate]:
    """The experiments of the specs, plus those only state knows (with the labels state recorded for them)."""
    out = {c.name: c for c in specs}
    for name, metadata in state_experiments.items():
        if name not in out:
            out[name] = Candidate(name, tuple(metadata.get("labels") or ()))
    return sorted(out.values(), key=lambda c: c.name)


def select_options(fn: F) -> F:
    """`--select/-s SELECTOR` (repeatable) and `--exclude SELECTOR` (repeatable) on a command."""
    fn = click.option(
        "--exclude",
        "excludes",
        multiple=True,
        metavar="SELECTOR",
        help="Leave out the experiments SELECTOR matches (same forms as --select; repeatable).",
    )(fn)
    fn = click.option(
        "--select",
        "-s",
        "selectors",
        multiple=True,
        metavar="SELECTOR",
        help="Act only on these experiments: a name, a glob (marv*), label:LABEL, +name (with what it builds on) "
        "or name+ (with what builds on it). Repeatable: a union.",
    )(fn)
    return fn
