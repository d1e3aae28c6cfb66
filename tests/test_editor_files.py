"""What `ftrun init` gives editors: each file names its schema (yaml-language-server), VS Code maps the specs to
it, and the scaffolded files pass the schemas they name. `ftrun schema --write DIR` writes the same schemas."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from runner.cli import cli
from runner.schemacheck import editor_schema, load_schema

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["--no-color", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_init_points_editors_at_schemas_the_files_pass(tmp_path: Path) -> None:
    run("-C", str(tmp_path), "init", "ws")
    ws = tmp_path / "ws"
    for rel, kind in (("ftrun.yaml", "workspace"), ("experiments/example.yaml", "experiment")):
        path = ws / rel
        text = path.read_text()
        line = MODELINE.match(text)
        assert line, f"{rel} does not start with the schema line"
        schema_path = (path.parent / line.group(1)).resolve()
        schema = json.loads(schema_path.read_text())
        assert schema == editor_schema(kind)
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(text))
    settings = json.loads((ws / ".vscode" / "settings.json").read_text())["yaml.schemas"]
    assert any(fnmatch.fnmatch("experiments/example.yaml", g) for g in settings["schemas/experiment.schema.json"])
    assert settings["schemas/workspace.schema.json"] == ["ftrun.yaml"]
    for schema_file in settings:
        assert (ws / schema_file).is_file()
    assert "Valid: 1 experiment(s)." in run("-C", str(ws), "validate")


def test_schema_write_writes_both_schemas(tmp_path: Path) -> None:
    out = run("schema", "--write", str(tmp_path / "s"))
    assert "experiment.schema.json" in out and "workspace.schema.json" in out
    for kind in ("experiment", "workspace"):
        written = json.loads((tmp_path / "s" / f"{kind}.schema.json").read_text())
        assert written == editor_schema(kind) and written["properties"] == load_schema(kind)["properties"]
    assert "required" not in editor_schema("experiment")  # ftrun.yaml's defaults may supply the model
    assert json.loads(run("schema", "workspace")) == load_schema("workspace")  # printing still works
