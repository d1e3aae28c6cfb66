"""Which base models a target accepts: known offline for OpenAI and the built-in server (`ftrun validate`), and asked
of the target itself before a plan uploads anything (`ftrun plan`).

The built-in server trains its presets, models in this machine's Hugging Face cache and model directories, so only
its own catalog (`/v1/models`) can say whether a name is unknown to it; offline, only its preset names are judged.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence

from runner.desired import Desired
from runner.diagnostics import Diagnostic, Severity
from runner.workspace import CONFIG_FILE, Target

# OpenAI's fine-tunable base models and the methods each takes. Source: OpenAI's supervised fine-tuning guide
# (developers.openai.com/api/docs/guides/supervised-fine-tuning, 2026), its DPO and reinforcement fine-tuning guides,
# and the `model` enum of fine_tuning.jobs.create in OpenAI's OpenAPI spec, as gathered in the project's reference
# notes on the OpenAI API (section 3, "Fine-tunable models"), 2026-12.
OPENAI_FINE_TUNABLE: dict[str, tuple[str, ...]] = {
    "gpt-4.1-2025-04-14": ("supervised", "dpo"),
    "gpt-4.1-mini-2025-04-14": ("supervised", "dpo"),
    "gpt-4.1-nano-2025-04-14": ("supervised", "dpo"),
    "gpt-4o-2024-08-06": ("supervised", "dpo"),
    "gpt-4o-mini-2024-07-18": ("supervised", "dpo"),
    "gpt-3.5-turbo-0125": ("supervised",),
    "gpt-3.5-turbo-1106": ("supervised",),
    "gpt-3.5-turbo-0613": ("supervised",),
    "gpt-4-0613": ("supervised",),
    "davinci-002": ("supervised",),
    "babbage-002": ("supervised",),
    "o4-mini-2025-04-16": ("reinforcement",),
}
# Aliases OpenAI resolves to a snapshot above (the job's `model` then names the snapshot).
OPENAI_ALIASES: dict[str, str] = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "o4-mini": "o4-mini-2025-04-16",
}
LOCAL_PREFIX = "local/"  # the built-in server's presets are named local/<size>


# The built-in server's presets (what it trains with no model on this machine), as runner.server.training.presets
# defines them; named here so that `ftrun validate` need not load the server (a test keeps the two equal).
LOCAL_PRESETS = ("local/tiny",)


def local_presets() -> tuple[str, ...]:
    return LOCAL_PRESETS


def is_openai(target: Target) -> bool:
    """Does the target send jobs to OpenAI itself (not another host that speaks its API)? Its profile says."""
    return target.profile.name == "openai"


def is_builtin_server(target: Target) -> bool:
    """The built-in server: in this process (`local`), or `ftrun serve` (a target with `flavor: ftrun`)."""
    return target.kind == "local" or target.profile.name == "ftrun"


def suggestion(name: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def _judged_by_path(d: Desired) -> bool:
    """A model directory (absolute, or in the workspace): the server checks it when it loads it, not by name; and
    a chain's model, which its upstream's training makes (that one's base model is checked)."""
    return d.api_model is not None or os.path.isabs(d.experiment.model) or d.experiment.base_experiment is not None


def _diagnostic(
    d: Desired,
    severity: Severity,
    message: str,
    known: Iterable[str],
    hint: str | None = None,
    defaults_line: int | None = None,
) -> Diagnostic:
    """At the spec's `model:` line, or at ftrun.yaml's `defaults:` when the model came from there."""
    close = suggestion(d.experiment.model, known)
    exp = d.experiment
    defaulted = "model" in exp.defaulted
    return Diagnostic(
        severity,
        message + (" (the default model in ftrun.yaml)" if defaulted else ""),
        file=CONFIG_FILE if defaulted else exp.file,
        line=defaults_line if defaulted else exp.line("model"),
        experiment=None if defaulted else exp.name,
        check="unknown-model",
        hint=f"did you mean '{close}'?" if close else hint,
    )


def _once(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A finding about the default model once, not once per experiment that uses it."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for d in diagnostics:
        key = (d.file, d.line, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def offline_diagnostics(
    desired: Sequence[Desired], target: Target, defaults_line: int | None = None
) -> list[Diagnostic]:
    """What can be said of each experiment's base model without asking the target (`ftrun validate`);
    `defaults_line`: the line of `model:` under ftrun.yaml's `defaults:`."""
    out = []
    openai_names = [*OPENAI_FINE_TUNABLE, *OPENAI_ALIASES]
    for d in desired:
        model, method = d.experiment.model, d.experiment.method.type
        if model.startswith("ft:") or _judged_by_path(d):
            continue
        if is_openai(target):
            snapshot = OPENAI_ALIASES.get(model, model)
            if snapshot not in OPENAI_FINE_TUNABLE:
                out.append(
                    _diagnostic(
                        d,
                        Severity.WARNING,
                        f"'{model}' is not one of the models OpenAI fine-tunes (as of 2026-12)",
                        openai_names,
                        hint=f"models OpenAI fine-tunes: {', '.join(OPENAI_FINE_TUNABLE)}",
                        defaults_line=defaults_line,
                    )
                )
            elif method not in OPENAI_FINE_TUNABLE[snapshot]:
                takes = ", ".join(OPENAI_FINE_TUNABLE[snapshot])
                out.append(
                    _diagnostic(
                        d,
                        Severity.ERROR,
                        f"OpenAI trains {model} with {takes}, not {method}",
                        (),
                        defaults_line=defaults_line,
                    )
                )
        elif is_builtin_server(target):
            presets = local_presets()
            if model.startswith(LOCAL_PREFIX) and model not in presets:
                out.append(
                    _diagnostic(
                        d,
                        Severity.ERROR,
                        f"'{model}' is not a preset of the built-in server",
                        presets,
                        hint=f"presets: {', '.join(presets)}",
                        defaults_line=defaults_line,
                    )
                )
            elif OPENAI_ALIASES.get(model, model) in OPENAI_FINE_TUNABLE:
                out.append(
                    _diagnostic(
                        d,
                        Severity.ERROR,
                        f"'{model}' is an OpenAI model: the built-in server trains open-weights models only",
                        (),
                        hint=f"use a preset ({', '.join(presets)}), a model directory or a Hugging Face model in "
                        "this machine's cache, or another target (-t openai)",
                        defaults_line=defaults_line,
                    )
                )
    return _once(out)


def unknown_models(
    desired: Sequence[Desired], offered: Sequence[str], target: Target, defaults_line: int | None = None
) -> list[Diagnostic]:
    """Each experiment whose base model the target's own model list does not offer (`ftrun plan`)."""
    known = set(offered)
    bases = sorted(m for m in known if not m.startswith(("ft:", "ftckpt")))
    offers = ", ".join(bases[:8]) + (", ..." if len(bases) > 8 else "")
    out = []
    for d in desired:
        model = d.experiment.model
        if model in known or _judged_by_path(d):
            continue
        if is_openai(target) and OPENAI_ALIASES.get(model) in known:
            continue
        out.append(
            _diagnostic(
                d,
                Severity.ERROR,
                f"target '{target.name}' has no model '{model}'",
                offered,
                hint=f"it offers {offers or 'no base model'} (and fine-tuned models by their ft: names)",
                defaults_line=defaults_line,
            )
        )
    return _once(out)
