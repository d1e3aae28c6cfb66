"""Shell completion of experiment names (click's `_FTRUN_COMPLETE`): read cheaply from the workspace's
experiments/ (file stems, or a top-level `name:`) and state/ files, without loading specs, data or the target.
A completion never fails: anything unreadable just completes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from runner.workspace import find_root

_NAME_LINE = re.compile(r"^name:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def workspace_experiment_names(root: Path) -> set[str]:
    """The experiments the specs declare and those the state files of every target record."""
    names: set[str] = set()
    exp_dir = root / "experiments"
    for spec in [*exp_dir.glob("*.yaml"), *exp_dir.glob("*.yml")]:
        try:
            head = spec.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError:
            continue
        declared = _NAME_LINE.search(head)
        names.add(declared.group(1) if declared else spec.stem)
    for state in (root / "state").glob("*.json"):
        try:
            names.update((json.loads(state.read_text(encoding="utf-8")).get("experiments") or {}).keys())
        except (OSError, ValueError, AttributeError):
            continue
    return names


def experiment_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Complete NAME arguments and --retrain options with the workspace's experiment names."""
    directory = ctx.find_root().params.get("directory")
    try:
        root = find_root(Path(directory) if directory else Path.cwd())
        names = workspace_experiment_names(root)
    except Exception:  # noqa: BLE001 - a completion must never print a traceback into the shell
        return []
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
