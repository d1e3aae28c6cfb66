"""The workspace: ftrun.yaml at the root of a repository (targets, defaults, budget, prices)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner import method_forms
from runner.diagnostics import Diagnostic, Severity, SpecError
from runner.profiles import PROFILES, Profile, default_flavor, resolve
from runner.redact import redact_url
from runner.schemacheck import check, violations
from runner.yamlsource import Located, load_yaml

CONFIG_FILE = "ftrun.yaml"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "local" (the built-in server, in-process) | "openai" (any server speaking OpenAI's API)
    base_url: str | None = None
    api_key_env: str | None = None
    organization: str | None = None
    project: str | None = None
    data_dir: str | None = None
    max_active_jobs: int | None = None
    free: bool = False
    poll_interval: float = 2.0
    eval_concurrency: int = 4  # chat requests an eval suite keeps in flight at once on this target
    profile: Profile = PROFILES["ftrun"]  # what the host supports (`flavor:` and `capabilities:` in ftrun.yaml)

    @property
    def endpoint(self) -> str:
        """Where jobs run, for humans (never contains a secret)."""
        if self.kind == "local":
            return "built-in server (in-process)"
        return redact_url(self.base_url or DEFAULT_OPENAI_URL)  # shown in plans and errors: never a password

    @property
    def notes(self) -> tuple[str, ...]:
        """What the target's profile implies, for plans ("azure: jobs found by suffix code; ...")."""
        implied = self.profile.implications()
        return (f"{self.profile.name}: {'; '.join(implied)}",) if implied else ()


LOCAL = Target(name="local", kind="local", free=True, poll_interval=1.0)


@dataclass(frozen=True)
class Workspace:
    root: Path
    name: str
    default_target: str
    targets: Mapping[str, Target]
    defaults: Located
    budget_max_usd: float | None = None
    prices: Mapping[str, float] = field(default_factory=dict)
    name_declared: bool = True  # False when the name was taken from the directory

    def target(self, name: str | None = None) -> Target:
        name = name or self.default_target
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets))
            raise SpecError(f"unknown target '{name}' (targets in {CONFIG_FILE}: {known})") from None

    def state_path(self, target: Target) -> Path:
        return self.root / "state" / f"{target.name}.json"

    def lock_path(self, target: Target) -> Path:
        return self.root / ".ftrun" / "locks" / f"{target.name}.lock"

    @property
    def cache_dir(self) -> Path:
        return cache_dir_of(self.root)

    def server_dir(self, target: Target) -> Path:
        return self.root / (target.data_dir or ".ftrun/server")

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def cache_dir_of(root: Path) -> Path:
    """The workspace's cache folder: what can be computed again, never committed."""
    return root / ".ftrun" / "cache"


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` that holds ftrun.yaml."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    raise SpecError(
        f"not an ftrun workspace: no {CONFIG_FILE} in {start} or any parent directory",
        hint="run `ftrun init` to create one, or pass -C DIR",
    )


def load_workspace(root: Path) -> Workspace:
    located = load_yaml(root / CONFIG_FILE, CONFIG_FILE)
    data = located.data if located.data is not None else {}
    located = Located(data, located.file, located.lines)
    cache_dir = cache_dir_of(root)
    diags = check(located, "workspace", cache_dir=cache_dir)
    if not diags and isinstance(data.get("defaults"), dict):
        defaults_data, lines, diags = method_forms.normalise(
            data["defaults"], located.lines, file=CONFIG_FILE, prefix=("defaults",)
        )
        data = {**data, "defaults": defaults_data}
        located = Located(data, located.file, lines)
    if not diags and isinstance(data.get("defaults"), dict):
        # `defaults` holds experiment fields: check them with the experiment schema, at their own lines.
        for err in violations(data["defaults"], "defaults", cache_dir=cache_dir):
            line = located.line(("defaults", *err.absolute_path))
            diags.append(
                Diagnostic(Severity.ERROR, f"defaults: {err.message}", file=CONFIG_FILE, line=line, check="bad-value")
            )
    if diags:
        raise SpecError(diags)

    targets: dict[str, Target] = {"local": LOCAL}
    for name, t in (data.get("targets") or {}).items():
        kind = t["kind"]
        base_url = t.get("base_url") or (None if kind == "local" else DEFAULT_OPENAI_URL)
        flavor = t.get("flavor") or default_flavor(kind, t.get("base_url"))
        targets[name] = Target(
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_env=t.get("api_key_env") or (None if kind == "local" else "OPENAI_API_KEY"),
            organization=t.get("organization"),
            project=t.get("project"),
            data_dir=t.get("data_dir"),
            max_active_jobs=t.get("max_active_jobs"),
            eval_concurrency=int(t.get("eval_concurrency", 4)),
            free=t.get("free", kind == "local"),
            poll_interval=float(t.get("poll_interval", 1.0 if kind == "local" else 15.0)),
            profile=resolve(flavor, t.get("capabilities"), t.get("extra_body")),
        )
    default_target = data.get("default_target", "local")
    if default_target not in targets:
        raise SpecError(
            Diagnostic(
                Severity.ERROR,
                f"default_target '{default_target}' is not a target",
                file=CONFIG_FILE,
                line=located.line(("default_target",)),
            )
        )
    defaults_data = data.get("defaults") or {}
    defaults = Located(
        defaults_data,
        CONFIG_FILE,
        {
            k[1:] if k and k[0] == "defaults" else ("<key>", *k[2:]): v
            for k, v in located.lines.items()
            if (k and k[0] == "defaults") or (len(k) > 1 and k[0] == "<key>" and k[1] == "defaults")
        },
    )
    return Workspace(
        root=root,
        name=data.get("workspace") or safe_name(root.name),
        default_target=default_target,
        targets=targets,
        defaults=defaults,
        budget_max_usd=(data.get("budget") or {}).get("max_usd"),
        prices=data.get("prices") or {},
        name_declared=bool(data.get("workspace")),
    )


def safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name).strip("-.") or "workspace"
    return cleaned[:64]


def env_key(target: Target) -> str | None:
    return os.environ.get(target.api_key_env) if target.api_key_env else None
