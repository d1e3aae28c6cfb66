"""Secrets never reach what ftrun prints or writes: a URL's password, and the values of secret-looking variables.

`Target.endpoint` (what plans, errors and `plan --json` show) drops a base_url's password; the crash log passes every
line through `redact_text`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
MASK = "***"


def redact_url(url: str) -> str:
    """https://user:pass@host/v1 -> https://user:***@host/v1"""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def secret_values(environ: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> list[str]:
    """Values worth hiding: the variables a target names for its key, and any variable named like a secret."""
    env = os.environ if environ is None else environ
    wanted = set(names) | {k for k in env if _SECRET_NAME.search(k)}
    return sorted({env[k] for k in wanted if len(env.get(k, "")) >= 6}, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m[1]}{MASK}", text)
    return _SK.sub(MASK, text)
