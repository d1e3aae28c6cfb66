"""Eval suites: evals/<suite>.yaml, one suite a file (its name is the stem), checked with file:line for every problem.

A suite's `cases:` is a JSONL path or a template over a source, exactly like training data (rendered by the dataset
layer), or a list of those; each case is one JSON line `{"messages": [...], "assert": [...]}`. The suite's `assert:`
applies to every case; `repeat`, `temperature`, `max_tokens` and `seed` say how answers are sampled. A suite is
identified by the hash of its parsed content and its sampling settings (`key`): an unchanged suite never runs twice
for the same model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.datasets import DataSpec
from runner.datasets.cache import cache_for
from runner.datasets.jsonparse import JsonLineError, parse_line
from runner.datasets.materialize import MaterializeError, materialize, resolve_in_root
from runner.diagnostics import Diagnostic, Severity, SpecError
from runner.evals.assertions import Assertion, InvalidAssertion, parse
from runner.fingerprint import digest
from runner.schemacheck import check
from runner.workspace import Workspace
from runner.yamlsource import Located, load_yaml

EVALS_DIR = "evals"
ANSWERING_ROLES = ("user", "tool")  # the last message of a case: the turn the model answers
LABEL_CHARS = 60


@dataclass(frozen=True)
class Sampling:
    repeat: int = 1
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    messages: tuple[Mapping[str, Any], ...]
    assertions: tuple[Assertion, ...]  # the suite's defaults, then the case's own
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    file: str
    cases: tuple[Case, ...]
    sampling: Sampling
    content_hash: str  # the cases and assertions, as parsed
    description: str = ""
    judges: tuple[str, ...] = field(default=())  # targets its judge assertions name

    @property
    def key(self) -> str:
        """What a stored result is looked up by: the content and the sampling settings."""
        return digest({"content": self.content_hash, "sampling": self.sampling.to_dict()})


def _error(message: str, file: str | None, line: int | None, check_name: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, file=file, line=line, check=check_name, hint=hint)


def _data_spec(value: Any, located: Located, path: tuple[str | int, ...]) -> DataSpec:
    line = located.line(path)
    if isinstance(value, str):
        return DataSpec(path=value, file=located.file, line=line)
    if "path" in value:
        return DataSpec(path=value["path"], file=located.file, line=line)
    return DataSpec(
        template=value.get("template"),
        source=value["source"],
        vars=dict(value.get("vars") or {}),
        file=located.file,
        line=line,
        template_line=located.key_line((*path, "template")),
    )


def _lines(spec: DataSpec, root: Path, cache_dir: Path) -> Iterator[tuple[str, int, str]]:
    """(file, line, text) of every case line a cases entry yields: a JSONL file's lines, or a template's renderings."""
    if spec.path:
        path = resolve_in_root(root, spec.path, "cases file")
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    try:
                        yield spec.path, number, line.decode("utf-8")
                    except UnicodeDecodeError as e:
                        message = f"invalid UTF-8: {e}"
                        raise MaterializeError(message, file=spec.path, line=number, check="invalid_utf8") from None
        return
    # Rendered like training data, through the data cache: unchanged cases are read back, not rendered again.
    material = materialize(spec, root, cache_for(cache_dir))
    with material.path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            yield material.origin, material.origin_line(number), text.rstrip("\n")


def _case(value: Any, defaults: Sequence[Assertion], file: str, line: int) -> Case:
    """One case from its JSON value; raises ValueError with what is wrong."""
    if not isinstance(value, dict):
        raise ValueError(f"a case must be a JSON object with `messages`, found {type(value).__name__}")
    extra = sorted(k for k in value if k not in ("messages", "assert"))
    if extra:
        raise ValueError(f"unknown key(s) in a case: {', '.join(extra)} (a case has `messages` and `assert`)")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("a case needs `messages`: a non-empty list of {role, content}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}] must be an object with a string `role` and `content`")
    if messages[-1]["role"] not in ANSWERING_ROLES:
        raise ValueError(
            f"the last message is from {messages[-1]['role']!r}: a case ends at the turn to answer (a user message)"
        )
    own = value.get("assert", [])
    if not isinstance(own, list):
        raise ValueError("`assert` must be a list of assertions")
    parsed = []
    for i, raw in enumerate(own):
        try:
            parsed.append(parse(raw))
        except InvalidAssertion as e:
            raise ValueError(f"assert[{i}]: {e}") from None
    assertions = (*defaults, *parsed)
    if not assertions:
        raise ValueError("this case has no assertion (give it `assert`, or the suite a default `assert:`)")
    label = " ".join(str(messages[-1]["content"]).split())
    label = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
    ident = digest({"messages": messages, "assert": [a.to_dict() for a in assertions]})[:12]
    return Case(ident, label, tuple(messages), assertions, file, line)


def load_suite(path: Path, ws: Workspace) -> tuple[Suite | None, list[Diagnostic]]:
    rel = ws.relative(path)
    try:
        located = load_yaml(path, rel)
    except SpecError as e:
        return None, list(e.diagnostics)
    if not isinstance(located.data, dict):
        return None, [_error("an eval suite must be a mapping with `cases:`", rel, 1, "wrong-type")]
    diags = check(located, "suite", cache_dir=ws.cache_dir)
    if diags:
        return None, diags
    data = located.data
    defaults: list[Assertion] = []
    for i, raw in enumerate(data.get("assert") or ()):
        try:
            defaults.append(parse(raw))
        except InvalidAssertion as e:
            diags.append(_error(str(e), rel, located.line(("assert", i)), "bad-assertion"))
    judges = sorted({a.judge.target for a in defaults if a.judge and a.judge.target})
    specs = data["cases"] if isinstance(data["cases"], list) else [data["cases"]]
    cases: list[Case] = []
    for i, raw_spec in enumerate(specs):
        where: tuple[str | int, ...] = ("cases", i) if isinstance(data["cases"], list) else ("cases",)
        spec = _data_spec(raw_spec, located, where)
        try:
            for file, line, text in _lines(spec, ws.root, ws.cache_dir):
                try:
                    case = _case(parse_line(text), defaults, file, line)
                except JsonLineError as e:
                    diags.append(_error(f"a case line that is not JSON: {e.message}", file, line, "invalid_json"))
                    continue
                except ValueError as e:
                    diags.append(_error(str(e), file, line, "bad-case"))
                    continue
                cases.append(case)
                judges += [a.judge.target for a in case.assertions if a.judge and a.judge.target]
        except MaterializeError as e:
            diags.append(_error(e.message, e.file, e.line, e.check))
    for target in sorted(set(judges)):
        if target not in ws.targets:
            diags.append(
                _error(
                    f"a judge names target '{target}', which ftrun.yaml does not define",
                    rel,
                    located.key_line(("assert",)) if data.get("assert") else 1,
                    "unknown-target",
                    hint=f"known targets: {', '.join(sorted(ws.targets))}",
                )
            )
    if not cases and not diags:
        diags.append(_error("this suite has no cases", rel, located.line(("cases",)), "no-cases"))
    if diags:
        return None, diags
    sampling = Sampling(
        repeat=int(data.get("repeat", 1)),
        temperature=float(data.get("temperature", 0.0)),
        max_tokens=data.get("max_tokens"),
        seed=data.get("seed"),
    )
    content = digest({"cases": [c.id for c in cases], "assert": [a.to_dict() for a in defaults]})
    return (
        Suite(
            name=path.stem,
            file=rel,
            cases=tuple(cases),
            sampling=sampling,
            content_hash=content,
            description=str(data.get("description") or ""),
            judges=tuple(sorted(set(judges))),
        ),
        [],
    )


def suite_files(ws: Workspace) -> dict[str, Path]:
    folder = ws.root / EVALS_DIR
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    return {p.stem: p for p in files}


def load_suites(ws: Workspace, names: Sequence[str]) -> tuple[dict[str, Suite], list[Diagnostic]]:
    """The suites `names` (what experiments list), each read and checked once; unknown names are left to the caller."""
    files = suite_files(ws)
    suites: dict[str, Suite] = {}
    diags: list[Diagnostic] = []
    for name in sorted(set(names)):
        if name not in files:
            continue
        suite, found = load_suite(files[name], ws)
        diags += found
        if suite is not None:
            suites[name] = suite
    return suites, diags
