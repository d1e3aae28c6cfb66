"""Identifiers in OpenAI's formats, and the checks that keep client-supplied ids inside the data directory."""

from __future__ import annotations

import re
import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits

# Every id the server hands out: a known prefix, then letters and digits only. An id from a request that does not
# match is unknown by construction, so it can never name a path outside the data directory.
_ID_PATTERN = re.compile(r"^(file-|upload_|part_|ftjob-|ftevent-|ftckpt_|chatcmpl-|org-)[A-Za-z0-9]{8,40}$")


def random_chars(n: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(n))


def file_id() -> str:
    return "file-" + random_chars(22)


def upload_id() -> str:
    return "upload_" + random_chars(24)


def part_id() -> str:
    return "part_" + random_chars(24)


def job_id() -> str:
    return "ftjob-" + random_chars(24)


def event_id() -> str:
    return "ftevent-" + random_chars(24)


def checkpoint_id() -> str:
    return "ftckpt_" + random_chars(24)


def chat_completion_id() -> str:
    return "chatcmpl-" + random_chars(29)


def request_id() -> str:
    """The `x-request-id` header of every response (the SDKs show it as `_request_id`)."""
    return "req_" + secrets.token_hex(16)


def organization_id() -> str:
    return "org-" + random_chars(24)


def model_tag() -> str:
    """The 8-character id that ends a fine-tuned model's name."""
    return random_chars(8)


def seed() -> int:
    return secrets.randbelow(2_147_483_648)


def is_valid_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and _ID_PATTERN.match(value) is not None
