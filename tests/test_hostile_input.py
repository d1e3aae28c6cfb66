"""Hostile specs and data: each gives one readable error naming file and line, exit code 1, no traceback, and the
state file byte for byte as it was, from `ftrun validate` and `ftrun plan` alike, on a copy of the example workspace."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from runner import yamlsource
from runner.cli import cli
from runner.diagnostics import SpecError
from runner.state import State, StateStore
from runner.yamlsource import MAX_DEPTH, MAX_VALUES, load_yaml, parse_yaml

# "billion laughs": nine levels of nine aliases each, 9**9 values from a few hundred bytes
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def _dpo_line(role: object = "user") -> str:
    return json.dumps(
        {
            "input": {"messages": [{"role": role, "content": "Which is better?"}]},
            "preferred_output": [{"role": "assistant", "content": "This one."}],
            "non_preferred_output": [{"role": "assistant", "content": "That one."}],
        }
    )


def _append(rel: str, text: str | bytes) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        path.write_bytes(path.read_bytes() + (text if isinstance(text, bytes) else text.encode()))

    return edit


def _write(rel: str, text: str | bytes) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return edit


def _dpo_experiment(root: Path) -> None:
    lines = [_dpo_line() for _ in range(11)] + [_dpo_line(["x"])]
    _write("data/prefs.jsonl", "".join(line + "\n" for line in lines))(root)
    _write("experiments/prefs.yaml", "training_file: data/prefs.jsonl\nmethod: dpo\n")(root)


MARV_LINES = 16  # data/marv.jsonl: an appended line is line 17

# case → (edit of the workspace, "file:line" the one error names, words it says)
CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "alias bomb in a spec": (
        _write("experiments/marv.yaml", "training_file: data/marv.jsonl\n" + BOMB),
        "experiments/marv.yaml:7",
        "aliases",
    ),
    "alias bomb in ftrun.yaml": (
        _append("ftrun.yaml", "\nbomb:\n  " + BOMB.replace("\n", "\n  ")),
        "ftrun.yaml:",
        "aliases",
    ),
    "alias cycle": (
        _write("experiments/marv.yaml", "training_file: data/marv.jsonl\nlabels: &a [*a]\n"),
        "experiments/marv.yaml:2",
        "cycle",
    ),
    "data nested 100,000 deep": (
        _append("data/marv.jsonl", "[" * 100_000 + "]" * 100_000 + "\n"),
        f"data/marv.jsonl:{MARV_LINES + 1}",
        "nested more than 100 levels",
    ),
    "integer of 5,001 digits": (
        _append("data/marv.jsonl", '{"messages": [{"role": "user", "content": "x", "weight": ' + "7" * 5001 + "}]}\n"),
        f"data/marv.jsonl:{MARV_LINES + 1}",
        "integer longer than",
    ),
    "role that is a list (supervised)": (
        _append(
            "data/marv.jsonl",
            json.dumps({"messages": [{"role": ["x"], "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n",
        ),
        f"data/marv.jsonl:{MARV_LINES + 1}",
        "unrecognized role ['x']",
    ),
    "role that is a list (dpo)": (_dpo_experiment, "data/prefs.jsonl:12", "unrecognized role ['x']"),
    "model with a NUL": (
        _write("experiments/marv.yaml", 'description: x\nmodel: "\\u0000"\ntraining_file: data/marv.jsonl\n'),
        "experiments/marv.yaml:2",
        "model: must be printable text",
    ),
    "model of 100,000 characters": (
        _write("experiments/marv.yaml", f"description: x\nmodel: {'m' * 100_000}\ntraining_file: data/marv.jsonl\n"),
        "experiments/marv.yaml:2",
        "100,000 characters long, at most 256",
    ),
    "template output of 2 GB": (
        _write("templates/qa_to_chat.jsonl.j2", "{{ 'a' * 2000000000 }}\n"),
        "templates/qa_to_chat.jsonl.j2:1",
        "limit of 8 MiB (rendering the record at data/faq.csv:2)",
    ),
    "template that does not exist": (
        _write(
            "experiments/faq.yaml",
            "description: x\ntraining_file:\n  source: data/faq.csv\n  template: templates/nope.j2\n",
        ),
        "experiments/faq.yaml:4",
        "template not found: templates/nope.j2",
    ),
    "template outside templates/": (
        _write("experiments/faq.yaml", "training_file:\n  template: ../ftrun.yaml\n  source: data/faq.csv\n"),
        "experiments/faq.yaml:2",
        "a template must be a file under templates/",
    ),
    "invalid UTF-8 in a spec": (
        _write("experiments/marv.yaml", b"description: x\nlabels: [caf\xe9]\ntraining_file: data/marv.jsonl\n"),
        "experiments/marv.yaml:2",
        "not valid UTF-8: byte 0xe9 at column 13",
    ),
    "control character in a spec": (
        _write("experiments/marv.yaml", "description: x\nsuffix: ab\x07c\ntraining_file: data/marv.jsonl\n"),
        "experiments/marv.yaml:2",
        "unacceptable character U+0007 at column 11",
    ),
    "control character in ftrun.yaml": (_append("ftrun.yaml", "\x00\n"), "ftrun.yaml:", "U+0000"),
    "invalid UTF-8 in data": (
        _append("data/marv.jsonl", b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'),
        f"data/marv.jsonl:{MARV_LINES + 1}",
        "invalid UTF-8 (byte 0xe9) at column 47",
    ),
    "invalid UTF-8 in a template source": (
        _append("data/faq.csv", b"caf\xe9,answer\n"),
        "data/faq.csv:",
        "invalid UTF-8 (byte 0xe9) at column 4",
    ),
}


@pytest.fixture
def ws(example_workspace: Path) -> Path:
    StateStore(example_workspace / "state" / "local.json").save(State.new("local"))
    return example_workspace


def run(root: Path, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["-C", str(root), "--no-color", *args])
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output, exc


def test_the_untouched_example_is_valid(ws: Path) -> None:
    code, out, exc = run(ws, "validate")
    assert (code, exc) == (0, None), out


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_gives_one_error_naming_file_and_line(ws: Path, case: str, command: str) -> None:
    edit, where, words = CASES[case]
    edit(ws)
    state = ws / "state" / "local.json"
    before = state.read_bytes()
    code, out, exc = run(ws, command)
    assert exc is None, f"{type(exc).__name__}: {exc}"
    assert code == 1, out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert where in errors[0] and words in errors[0], out
    assert re.search(r":\d+", errors[0]), out  # a line, not only a file
    assert len(out) < 2_000, out  # a hostile value is quoted short, never printed whole
    assert state.read_bytes() == before


# -- the one YAML loading place, directly ----------------------------------------------------------------------


def test_aliases_within_the_limit_still_load() -> None:
    located = parse_yaml("base: &b {n_epochs: 3, seed: 1}\nmethod:\n  hyperparameters: *b\n", "x.yaml")
    assert located.data["method"]["hyperparameters"] == {"n_epochs": 3, "seed": 1}
    assert located.key_line(("method", "hyperparameters")) == 3


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (BOMB, 6, f"more than {MAX_VALUES:,} values"),
        ("a: 1\nb: &x [1, *x]\n", 2, "cycle"),
        ("a:\n  b: &x {c: *x}\n", 2, "cycle"),
        ("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", 1, f"more than {MAX_DEPTH} levels"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nesting depth"),
        (BOMB + "? *i\n: 1\n", 6, "values"),  # a bomb as a key is never turned into text
        ("a: 1\nb:\n  c: 2\n  c: 3\n", 4, "duplicate key 'c' (first defined on line 3)"),
        ("a: é\nb: x\x00y\n", 2, "unacceptable character U+0000 at column 5"),
        ("a: [b\nc: 1\n", 2, "invalid YAML"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "pure Python"])
def test_yaml_that_cannot_be_used_is_one_error_with_its_line(
    monkeypatch: pytest.MonkeyPatch, text: str, line: int, words: str, loader: str
) -> None:
    if loader == "pure Python":
        if "nesting depth" in words:
            pytest.skip("libyaml's own nesting limit")
        monkeypatch.setattr(yamlsource, "_Loader", yaml.SafeLoader)
    with pytest.raises(SpecError) as e:
        parse_yaml(text, "x.yaml")
    [d] = e.value.diagnostics
    assert (d.file, d.line) == ("x.yaml", line) and words in d.message, d.message


def test_a_spec_file_that_is_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("a: 1\nb: 消息 \xff\n".encode("utf-8", errors="surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(SpecError) as e:
        load_yaml(path, "x.yaml")
    [d] = e.value.diagnostics
    assert (d.line, d.message) == (2, "file is not valid UTF-8: byte 0xff at column 7")


def test_the_chat_system_prompt_skips_lines_that_are_not_examples(tmp_path: Path) -> None:
    """`ftrun chat` reads the system prompt from the data; hostile lines are skipped, never a traceback."""
    from runner.pipeline import system_prompt

    example = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}
    hostile = ["[" * 100_000 + "]" * 100_000, '{"n": ' + "9" * 5_001 + "}", '{"messages": 7}', "[1]", "\xff{", ""]
    path = tmp_path / "d.jsonl"
    path.write_bytes("\n".join([*hostile, json.dumps(example)]).encode("utf-8", errors="surrogateescape") + b"\n")
    assert system_prompt(path) == "Be brief."
