"""A template from a pull request cannot render one record for minutes or into gigabytes: each hostile template is
refused at once (sizes) or after the time limit, naming the template and its line; ordinary templates still render."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from runner.datasets import DataSpec
from runner.datasets.materialize import MaterializeError, render_bytes
from runner.datasets.templates import MAX_OUTPUT_BYTES, RecordTemplate, TemplateFailure

# refused before anything big is built
TOO_BIG = {
    "repeat": "{{ 'a' * 2000000000 }}",
    "repeat a list": "{{ ([1] * 2000000000)|length }}",
    "power": "{{ 10 ** 100000000 }}",
    "padding method": "{{ 'a'.center(2000000000) }}",
    "padding filter": "{{ 'a'|center(2000000000) }}",
    "indent filter": "{{ 'a\nb'|indent(2000000000) }}",
    "format method": "{{ '{:>2000000000}'.format(1) }}",
    "format method, width as an argument": "{{ '{:{}}'.format('a', 2000000000) }}",
    "printf operator": "{{ '%2000000000s' % 1 }}",
    "format filter": "{{ '%2000000000s'|format(1) }}",
    "replace filter": "{{ ('a' * 1000)|replace('a', 'b' * 100000) }}",
    "replace method": "{{ ('a' * 1000).replace('a', 'b' * 100000) }}",
    "tojson indent": "{{ record|tojson(indent=2000000000) }}",
    "doubling in a namespace": (
        "{% set ns = namespace(s='abcdefgh') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    ),
    "doubling through a macro": "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('abcdefgh') }}",
    "output of a loop": "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
}

# stopped by the clock
TOO_LONG = {
    "loop over ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "loop over a record's list": (
        "{% for a in big %}{% for b in big %}{% for c in big %}{% endfor %}{% endfor %}{% endfor %}"
    ),
}


def _template(root: Path, body: str, **limits: float) -> RecordTemplate:
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "t.j2").write_text("\n" + body + "\n", encoding="utf-8")
    return dataclasses.replace(RecordTemplate.load(root, "templates/t.j2"), **limits)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", sorted(TOO_BIG))
def test_output_past_the_limit_is_refused(tmp_path: Path, case: str) -> None:
    template = _template(tmp_path, TOO_BIG[case], seconds=30.0)
    with pytest.raises(TemplateFailure) as e:
        template.render({"q": "hi", "big": list(range(10))}, {})
    assert e.value.check == "template_limit", e.value.message
    assert e.value.template == "templates/t.j2"
    assert "limit" in e.value.message


@pytest.mark.parametrize("case", sorted(TOO_LONG))
@pytest.mark.parametrize("thread", ["main thread", "another thread"])
def test_rendering_past_the_time_limit_is_stopped(tmp_path: Path, case: str, thread: str) -> None:
    if thread == "another thread" and "record" in case:
        pytest.skip("a loop that calls nothing is stopped by the timer, which only the main thread has")
    template = _template(tmp_path, TOO_LONG[case], seconds=0.3)
    caught: list[BaseException] = []

    def render() -> None:
        try:
            template.render({"big": list(range(2000))}, {})
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            caught.append(e)

    if thread == "main thread":
        render()
    else:
        worker = threading.Thread(target=render)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive()
    [error] = caught
    assert isinstance(error, TemplateFailure) and error.check == "template_limit"
    assert "longer than the limit of 0.3 s" in error.message


def test_ordinary_templates_render_as_before(tmp_path: Path) -> None:
    body = (
        "{% set ns = namespace(n=0) %}{% for m in record.messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        '{"messages": {{ record.messages|tojson }}, "n": {{ ns.n }}, "pad": {{ q|center(9)|tojson }}, '
        '"x": {{ (q * 3)|tojson }}, "p": {{ 2 ** 10 }}, "f": {{ "%5s"|format(q)|tojson }}, '
        '"r": {{ range(3)|list|tojson }}, "big": {{ 12345678901 }}, "s": {{ "{:>4}".format(q)|tojson }}, '
        '"id": {{ "order 123456789012: %s"|format(q)|tojson }}, "n2": {{ "{} of 12345678901".format(99999999999) }}}'
    )
    template = _template(tmp_path, body)
    out = template.render({"q": "hi", "messages": [{"role": "user", "content": "x"}]}, {})
    assert out == (
        '{"messages": [{"role": "user", "content": "x"}], "n": 1, "pad": "    hi   ", "x": "hihihi", "p": 1024, '
        '"f": "   hi", "r": [0, 1, 2], "big": 12345678901, "s": "  hi", "id": "order 123456789012: hi", '
        '"n2": 99999999999 of 12345678901}'
    )


def test_output_just_under_the_limit_renders(tmp_path: Path) -> None:
    template = _template(tmp_path, "{{ 'a' * n }}", max_bytes=1000)  # and a newline before it
    assert template.render({"n": 999}, {}) == "a" * 999
    with pytest.raises(TemplateFailure):
        template.render({"n": 1001}, {})
    assert MAX_OUTPUT_BYTES == 8 << 20


def test_the_failure_names_template_line_record_and_limit(workspace: Path) -> None:
    (workspace / "templates" / "huge.j2").write_text("{# one #}\n{{ 'a' * 2000000000 }}\n", encoding="utf-8")
    spec = DataSpec(template="templates/huge.j2", source="data/faq.csv", file="experiments/x.yaml", line=2)
    with pytest.raises(MaterializeError) as e:
        render_bytes(spec, workspace)
    assert (e.value.file, e.value.line, e.value.check) == ("templates/huge.j2", 2, "template_limit")
    assert "limit of 8 MiB" in e.value.message and "data/faq.csv:2" in e.value.message


def test_a_missing_template_is_named_at_the_spec_line(workspace: Path) -> None:
    spec = DataSpec(
        template="templates/nope.j2", source="data/faq.csv", file="experiments/x.yaml", line=2, template_line=4
    )
    with pytest.raises(MaterializeError) as e:
        render_bytes(spec, workspace)
    assert (e.value.file, e.value.line, e.value.check) == ("experiments/x.yaml", 4, "template_not_found")
