"""Who may import what: the architecture's boundaries, checked over every module's imports (at any depth)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "runner"

# library (top-level name) -> the only modules (paths under runner/, as prefixes) that may import it
ALLOWED = {
    "openai": ("provider.py",),
    "flask": ("server/",),
    "werkzeug": ("server/",),
    "torch": ("server/training/",),
    "transformers": ("server/training/",),
    "peft": ("server/training/",),
    "safetensors": ("server/training/",),
    "tokenizers": ("server/training/",),
    "matplotlib": ("views/loss_charts.py",),  # the report's charts (the `report` extra)
    "selenium": (),  # tests only
}
# Views render; they never act: none of them reaches the target, the applier, the lock or the command line.
VIEWS_MAY_NOT = ("runner.provider", "runner.apply", "runner.pipeline", "runner.lock", "runner.cli", "runner.server")
# The planner is pure: no I/O modules.
PLANNER_MAY_NOT = ("runner.provider", "runner.apply", "runner.pipeline", "runner.lock", "runner.cli", "runner.views")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_heavy_and_remote_libraries_stay_behind_their_boundary(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    for name in imports(path):
        top = name.split(".")[0]
        if top in ALLOWED:
            assert rel.startswith(ALLOWED[top]), f"runner/{rel} imports {name}: only {ALLOWED[top]} may"


def test_views_only_render_and_the_planner_is_pure() -> None:
    for path in sorted((PACKAGE / "views").rglob("*.py")):
        bad = [n for n in imports(path) if n.startswith(VIEWS_MAY_NOT)]
        assert not bad, f"{path.name} imports {bad}"
    bad = [n for n in imports(PACKAGE / "plan.py") if n.startswith(PLANNER_MAY_NOT)]
    assert not bad, f"plan.py imports {bad}"


def test_the_rules_see_real_imports() -> None:
    """The checker itself: it finds the provider's openai import and a lazy import inside a function."""
    assert "openai" in imports(PACKAGE / "provider.py")
    assert "runner.provider" in imports(PACKAGE / "cli.py")  # imported lazily, inside Context.provider
