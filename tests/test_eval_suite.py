"""Loading eval suites (cases rendered like training data, hashed by content) and state files of the old format."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import pipeline
from runner.evals.suite import load_suite
from runner.state import FORMAT_VERSION, State, StateStore
from runner.workspace import load_workspace


def test_the_example_suite_renders_trained_and_held_out_cases(example_workspace: Path) -> None:
    ws = load_workspace(example_workspace)
    suite, diags = load_suite(example_workspace / "evals" / "marv-answers.yaml", ws)
    assert not diags and suite is not None
    assert len(suite.cases) == 20
    trained = [c for c in suite.cases if c.file == "data/marv.jsonl"]
    assert len(trained) == 16 and [c.line for c in trained] == list(range(1, 17))
    assert any("首都" in c.label for c in trained)  # the Chinese questions are there too
    assert all(c.messages[-1]["role"] == "user" for c in suite.cases)
    assert [a.type for a in trained[0].assertions] == ["not-contains", "similar"]
    loaded = pipeline.load(ws, ws.target())
    by_name = {d.experiment.name: d for d in loaded.desired}
    assert [s.name for s in by_name["marv"].suites] == ["marv-answers"]
    assert by_name["marv"].experiment.promote is not None


def test_the_suite_key_follows_content_and_sampling_but_not_the_description(example_workspace: Path) -> None:
    ws = load_workspace(example_workspace)
    path = example_workspace / "evals" / "marv-answers.yaml"

    def key() -> str:
        suite, diags = load_suite(path, ws)
        assert suite is not None, diags
        return suite.key

    original = path.read_text(encoding="utf-8")
    first = key()
    path.write_text(original.replace("description: Marv's", "description: All of Marv's"), encoding="utf-8")
    assert key() == first
    path.write_text(original.replace("seed: 7", "seed: 8"), encoding="utf-8")
    assert key() != first
    path.write_text(original.replace("threshold: 0.6", "threshold: 0.7"), encoding="utf-8")
    assert key() != first


def test_a_state_file_of_format_1_still_loads_and_is_written_back_in_the_new_format(tmp_path: Path) -> None:
    old = {
        "format_version": 1,
        "lineage": "l-1",
        "serial": 4,
        "target": "local",
        "files": {},
        "experiments": {
            "marv": {
                "current": "ftjob-1",
                "metadata_hash": "m",
                "metadata": {},
                "runs": [
                    {"job_id": "ftjob-1", "training_hash": "t", "inputs": {}, "status": "succeeded", "created_at": 1}
                ],
            }
        },
    }
    path = tmp_path / "local.json"
    path.write_text(json.dumps(old))
    store = StateStore(path)
    state = store.load()
    assert state is not None and state.experiments["marv"].current_run is not None
    assert state.experiments["marv"].current_run.evals == () and state.experiments["marv"].aliases == {}
    store.save(state)
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION == 2
    assert State.from_dict(json.loads(path.read_text())).experiments["marv"].runs == state.experiments["marv"].runs


def test_the_suite_schema_is_written_for_editors_and_the_example_suite_passes_it(
    example_workspace: Path, tmp_path: Path
) -> None:
    import jsonschema
    import yaml

    from runner.schemacheck import write_schemas

    written = {p.name for p in write_schemas(tmp_path / "schemas")}
    assert "suite.schema.json" in written
    schema = json.loads((tmp_path / "schemas" / "suite.schema.json").read_text())
    suite = yaml.safe_load((example_workspace / "evals" / "marv-answers.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(suite)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=80),
            st.builds(
                json.dumps,
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: (
                        st.lists(inner, max_size=3)
                        | st.dictionaries(
                            st.sampled_from(["messages", "assert", "role", "content", "type", "value"]),
                            inner,
                            max_size=3,
                        )
                    ),
                    max_leaves=8,
                ),
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_case_file_loads_as_cases_or_errors_at_their_lines_never_a_crash(tmp_path: Path, lines: list[str]) -> None:
    root = tmp_path / "ws"
    (root / "evals").mkdir(parents=True, exist_ok=True)
    (root / "ftrun.yaml").write_text("workspace: w\n")
    (root / "evals" / "s.yaml").write_text("cases: evals/cases.jsonl\n")
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n"
    (root / "evals" / "cases.jsonl").write_text(text, encoding="utf-8")
    suite, diags = load_suite(root / "evals" / "s.yaml", load_workspace(root))
    assert (suite is None) == bool(diags)
    for d in diags:
        assert d.file in ("evals/cases.jsonl", "evals/s.yaml") and d.message
