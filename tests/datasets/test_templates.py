"""Templates render in a sandbox; mistakes and escape attempts fail with the template, line and variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.datasets import DataSpec, MaterializeError, prepare, render_bytes
from runner.diagnostics import Severity


def _spec(template: str, **vars: object) -> DataSpec:
    return DataSpec(template=f"templates/{template}", source="data/faq.csv", vars=vars)


def _write(root: Path, name: str, text: str) -> None:
    (root / "templates" / name).write_text(text, encoding="utf-8")


def _prepare(root: Path, spec: DataSpec):  # type: ignore[no-untyped-def]
    return prepare(
        spec, None, root=root, cache_dir=root / ".ftrun", experiment="e", model="gpt-4o-mini", method="supervised"
    )


def test_qa_template_renders_utf8_chat_examples(workspace: Path) -> None:
    data = render_bytes(_spec("qa_to_chat.jsonl.j2", system="Be brief."), workspace)
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 14
    first = json.loads(lines[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][0]["content"] == "Be brief."
    assert "支持中文数据吗" in lines[12]  # Chinese kept as is, not \\u escapes
    assert b"\\u" not in data


def test_rendered_data_validates_and_is_cached_by_content(workspace: Path) -> None:
    prepared = _prepare(workspace, _spec("qa_to_chat.jsonl.j2", system="Be brief."))
    assert prepared.diagnostics == ()
    ds = prepared.training
    assert ds is not None and ds.rendered and ds.examples == 14
    assert ds.path.read_bytes() == render_bytes(_spec("qa_to_chat.jsonl.j2", system="Be brief."), workspace)
    assert ds.path.name == f"{ds.sha256}.jsonl" and (workspace / ".ftrun") in ds.path.parents


def test_findings_on_rendered_data_name_the_source_line(workspace: Path) -> None:
    # the CSV row at line 4 gets an empty answer
    csv = (workspace / "data" / "faq.csv").read_text(encoding="utf-8").splitlines()
    question = csv[3].split(",", 1)[0]
    csv[3] = f'{question},""'
    (workspace / "data" / "faq.csv").write_text("\n".join(csv) + "\n", encoding="utf-8")
    prepared = _prepare(workspace, _spec("qa_to_chat.jsonl.j2", system="S"))
    (d,) = prepared.diagnostics
    assert (d.check, d.file, d.line, d.severity) == ("empty_content", "data/faq.csv", 4, Severity.WARNING)
    assert "templates/qa_to_chat.jsonl.j2" in d.message


def test_undefined_variable_names_template_line_and_variable(workspace: Path) -> None:
    body = '{# a comment #}\n{"messages": [\n{"role": "system", "content": {{ sytem | tojson }}}]}\n'
    _write(workspace, "typo.j2", body)
    prepared = _prepare(workspace, _spec("typo.j2", system="S"))
    assert prepared.training is None  # nothing to upload
    (d,) = prepared.diagnostics
    assert d.severity is Severity.ERROR and d.check == "template_undefined"
    assert (d.file, d.line) == ("templates/typo.j2", 3)
    assert "'sytem' is undefined" in d.message and "data/faq.csv:2" in d.message
    with pytest.raises(MaterializeError) as info:
        render_bytes(_spec("typo.j2", system="S"), workspace)
    assert (info.value.file, info.value.line) == ("templates/typo.j2", 3)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ question.__class__.__base__.__subclasses__() }}", "unsafe"),
        ("{{ cycler.__init__.__globals__.os.environ }}", "unsafe"),
        ("{{ os.environ }}", "'os' is undefined"),
        ("{{ environ['HOME'] }}", "'environ' is undefined"),
        ("{{ open('/etc/passwd').read() }}", "'open' is undefined"),
        ("{{ self._TemplateReference__context }}", "unsafe"),
        ("{% include '../data/faq.csv' %}", "template not found"),
        ("{% include '/etc/passwd' %}", "template not found"),
        ("{{ record.update({'a': 1}) }}", "unsafe"),
    ],
)
def test_sandbox_escapes_fail_clearly(workspace: Path, body: str, needle: str) -> None:
    _write(workspace, "evil.j2", "\n" + body + "\n")
    prepared = _prepare(workspace, _spec("evil.j2"))
    assert prepared.training is None
    (d,) = prepared.diagnostics
    assert d.severity is Severity.ERROR and needle in d.message
    assert d.file == "templates/evil.j2" and d.line == 2
    if needle == "unsafe":
        assert d.check == "template_sandbox"


def test_template_outside_templates_folder_is_refused(workspace: Path) -> None:
    prepared = _prepare(workspace, DataSpec(template="../evil.j2", source="data/faq.csv"))
    (d,) = prepared.diagnostics
    assert d.severity is Severity.ERROR and "under templates/" in d.message


def test_syntax_error_names_line(workspace: Path) -> None:
    _write(workspace, "broken.j2", "line one\n{% if %}\n")
    (d,) = _prepare(workspace, _spec("broken.j2")).diagnostics
    assert (d.file, d.line, d.check) == ("templates/broken.j2", 2, "template_error")


def test_record_fields_override_vars_and_blank_output_skips(workspace: Path) -> None:
    (workspace / "data" / "rows.jsonl").write_text(
        '{"q": "a", "system": "row system"}\n{"q": "skip"}\n{"q": "b"}\n', encoding="utf-8"
    )
    _write(workspace, "t.j2", '{% if q != "skip" %}{{ {"q": q, "system": system} | tojson }}{% endif %}')
    spec = DataSpec(template="templates/t.j2", source="data/rows.jsonl", vars={"system": "default"})
    lines = [json.loads(x) for x in render_bytes(spec, workspace).splitlines()]
    assert lines == [{"q": "a", "system": "row system"}, {"q": "b", "system": "default"}]


def test_multiline_output_is_one_json_value(workspace: Path) -> None:
    (workspace / "data" / "rows.json").write_text('[\n  {"q": "a"},\n  {"q": "b"}\n]\n', encoding="utf-8")
    _write(workspace, "pretty.j2", '{\n  "q": {{ q | tojson }}\n}\n')
    spec = DataSpec(template="templates/pretty.j2", source="data/rows.json")
    assert render_bytes(spec, workspace) == b'{"q": "a"}\n{"q": "b"}\n'
