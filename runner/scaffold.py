"""`ftrun init`: the files of a new workspace (never overwriting one that exists)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from runner.diagnostics import FtrunError
from runner.schemacheck import write_schemas
from runner.workspace import safe_name

WORKSPACE_YAML = """\
# yaml-language-server: $schema=schemas/workspace.schema.json
# ftrun workspace: where jobs run, what every experiment gets by default, and what a plan may spend.
# Jobs are tagged with the workspace's name, so that a lost or stale state can find them again: keep it unique.
workspace: {name}
default_target: local

targets:
  local:             # the built-in server, in-process: real training on this machine, no account needed
    kind: local
  openai:
    kind: openai
    api_key_env: OPENAI_API_KEY

defaults:
  model: local/tiny
  seed: 42

budget:
  max_usd: 10
"""

EXPERIMENT_YAML = """\
# yaml-language-server: $schema=../schemas/experiment.schema.json
# One experiment per file; its name is the file's stem. `ftrun schema` prints every field.
description: A first fine-tune on the example data.
training_file: data/example.jsonl
method:
  type: supervised
  hyperparameters:
    n_epochs: auto
"""

_EXAMPLES = [
    ("What does ftrun plan do?", "It shows what would train, why, from which data and at what cost."),
    ("What does ftrun apply do?", "It uploads each dataset once and creates, tracks or cancels the jobs."),
    ("Where is state kept?", "In state/<target>.json, committed like code."),
    ("Which target is the default?", "local: the built-in server on this machine."),
    ("How do I see my model's name?", "Run ftrun output followed by the experiment's name."),
    ("Does ftrun store my API key?", "Never. It reads the key from the environment variable you name."),
    ("What happens if apply crashes?", "The next apply adopts the job it created; nothing is duplicated."),
    ("How do I retrain a failed experiment?", "Change its spec or data, or run ftrun apply --retrain NAME."),
    ("What does removing a spec do?", "It cancels the running job and forgets it; models are kept."),
    ("How do I check my data?", "Run ftrun validate: every problem is reported with its file and line."),
]

# Editors that read yaml-language-server settings (VS Code's YAML extension) check specs as they are typed; others
# read the `# yaml-language-server: $schema=` line at the top of each file.
VSCODE_SETTINGS = {
    "yaml.schemas": {
        "schemas/experiment.schema.json": ["experiments/*.yaml", "experiments/*.yml"],
        "schemas/workspace.schema.json": ["ftrun.yaml"],
    }
}

GITIGNORE = ".ftrun/\nstate/*.backup\nstate/.*.tmp\n"  # .tmp: a state write killed before its rename


def create_workspace(root: Path) -> list[Path]:
    if (root / "ftrun.yaml").exists():
        raise FtrunError(f"{root / 'ftrun.yaml'} already exists: this is a workspace already")
    data = "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You answer questions about ftrun."},
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": a},
                ]
            },
            ensure_ascii=False,
        )
        + "\n"
        for q, a in _EXAMPLES
    )
    files = {
        "ftrun.yaml": WORKSPACE_YAML.format(name=f"{safe_name(root.name)[:50]}-{secrets.token_hex(3)}"),
        "experiments/example.yaml": EXPERIMENT_YAML,
        "data/example.jsonl": data,
        "templates/.gitkeep": "",
        "state/.gitkeep": "",
        ".vscode/settings.json": json.dumps(VSCODE_SETTINGS, indent=2) + "\n",
    }
    created = []
    for rel, text in files.items():
        path = root / rel
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path.relative_to(root))
    if not (root / "schemas").exists():
        created += [p.relative_to(root) for p in write_schemas(root / "schemas")]
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if ".ftrun/" not in existing:
        gitignore.write_text(
            existing + ("" if not existing or existing.endswith("\n") else "\n") + GITIGNORE, encoding="utf-8"
        )
        created.append(Path(".gitignore"))
    return created
