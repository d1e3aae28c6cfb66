"""What a host that speaks OpenAI's fine-tuning API supports: one capability profile per host, not `if`s in the code.

A target names its profile with `flavor:` in ftrun.yaml (or gets one from its base_url) and may correct any of its
facts under `capabilities:`. Facts about the hosts are in the project's reference notes (hosts.md):

- `openai`: OpenAI itself. Jobs carry `metadata` and the job list filters by it.
- `ftrun`: the built-in server (`ftrun serve`), the same as OpenAI where it matters here.
- `azure`: Microsoft Foundry's v1 API (`https://<resource>.openai.azure.com/openai/v1/`): `trainingType` in the
  request body, suffixes of at most 40 characters without dots, models named `<base>.ft-<hex>`, and a deployment
  before a trained model can chat. Whether jobs keep `metadata` is not documented, so none is relied on.
- `generic`: any other OpenAI-shaped host (Nebius, Bedrock's OpenAI-compatible endpoint, ...): nothing beyond the
  shapes is assumed.

Where a host keeps no metadata, the job ftrun created is found again (after a crash, say) by a short code of its
workspace, experiment and training hash carried at the end of its suffix (`runner.adoption`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ALL_METHODS = frozenset({"supervised", "dpo", "reinforcement"})


@dataclass(frozen=True)
class Profile:
    name: str
    methods: frozenset[str] = ALL_METHODS  # the fine-tuning methods the host trains
    metadata: bool = True  # jobs keep the `metadata` they are created with (and it is sent)
    list_filter: bool = True  # the job list filters by metadata (`jobs.list(metadata=...)`)
    max_suffix: int = 64
    suffix_forbidden: str = ""  # characters a suffix may not contain
    extra_body: Mapping[str, Any] = field(default_factory=dict)  # fields every job request carries
    chat_needs_deployment: bool = False  # a trained model answers only once deployed (outside ftrun)
    model_names: str = "ft:<base>:<org>:<suffix>:<id>"  # how the host names a trained model

    @property
    def finds_jobs_by_suffix(self) -> bool:
        return not self.metadata

    def implications(self) -> list[str]:
        """What the profile means for a plan, in a few words each (shown under the target)."""
        notes = []
        if self.finds_jobs_by_suffix:
            notes.append("jobs found by suffix code")
        if self.extra_body:
            notes.append("requests carry " + ", ".join(f"{k}={v}" for k, v in sorted(self.extra_body.items())))
        if self.chat_needs_deployment:
            notes.append("chat needs a deployment")
        return notes

    def clean_suffix(self, suffix: str) -> str:
        """`suffix` within the host's rules: forbidden characters become '-', cut to the length allowed."""
        for char in self.suffix_forbidden:
            suffix = suffix.replace(char, "-")
        return suffix[: self.max_suffix]

    def job_suffix(self, suffix: str | None, experiment: str, code: str) -> str | None:
        """The suffix a job is created with: as the spec says where jobs keep metadata; otherwise the spec's suffix
        (or the experiment's name) cut short enough to end in `-<code>`, within the host's rules."""
        if not self.finds_jobs_by_suffix:
            return suffix
        head = self.clean_suffix(suffix or experiment)[: max(0, self.max_suffix - len(code) - 1)].rstrip("-")
        return f"{head}-{code}" if head else code


PROFILES: dict[str, Profile] = {
    "openai": Profile("openai"),
    "ftrun": Profile("ftrun", methods=frozenset({"supervised", "dpo"})),
    "azure": Profile(
        "azure",
        metadata=False,
        list_filter=False,
        max_suffix=40,
        suffix_forbidden=".",
        extra_body={"trainingType": "Standard"},
        chat_needs_deployment=True,
        model_names="<base>.ft-<hex>",
    ),
    "generic": Profile("generic", metadata=False, list_filter=False),
}

# `capabilities:` keys in ftrun.yaml and the profile fields they set
CAPABILITY_FIELDS = {
    "methods": "methods",
    "metadata": "metadata",
    "list_filter": "list_filter",
    "max_suffix": "max_suffix",
    "suffix_forbidden": "suffix_forbidden",
    "chat_needs_deployment": "chat_needs_deployment",
}

_AZURE_HOST = re.compile(
    r"^https?://[^/]*\.(openai\.azure\.com|services\.ai\.azure\.com|cognitiveservices\.azure\.com)"
)
_OPENAI_HOST = re.compile(r"^https?://api\.openai\.com(/|$)")


def default_flavor(kind: str, base_url: str | None) -> str:
    """The profile a target gets when ftrun.yaml names none: by its kind and the host in its base_url."""
    if kind == "local":
        return "ftrun"
    if base_url is None or _OPENAI_HOST.match(base_url):
        return "openai"
    if _AZURE_HOST.match(base_url):
        return "azure"
    return "generic"


def resolve(
    flavor: str, capabilities: Mapping[str, Any] | None = None, extra_body: Mapping[str, Any] | None = None
) -> Profile:
    """The named profile with the target's own corrections (`capabilities:`, `extra_body:` in ftrun.yaml)."""
    profile = PROFILES[flavor]
    changes: dict[str, Any] = {}
    for key, value in (capabilities or {}).items():
        changes[CAPABILITY_FIELDS[key]] = frozenset(value) if key == "methods" else value
    if extra_body is not None:
        changes["extra_body"] = {**profile.extra_body, **extra_body}
    return replace(profile, **changes) if changes else profile
