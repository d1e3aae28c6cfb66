"""Scrub personal data out of message text: each value found is replaced by a typed placeholder and counted.

Kinds, in the order they are tried at one position (the first that matches wins):

- `secret`: the value after `password=`, `pwd:`, `token=`, `api_key:`, `密码是`, `密码：`, `口令`, `验证码` and the like
  (the key is kept, the value replaced), and `sk-...` style API keys;
- `email`: e-mail addresses;
- `id_number`: Chinese resident identity numbers (18 characters: region, birth date, sequence, check digit);
- `phone`: mainland China mobile numbers (11 digits from 13x to 19x, optionally with +86), Chinese landlines
  (010-12345678), international numbers written with a leading `+`, and North American (555) 123-4567 forms;
- `bank_card`: bank-card-like runs of 13 to 19 digits, optionally in groups split by spaces or dashes.

Chat exports are scrubbed by default (all kinds); a source's `scrub: false` turns it off and `scrub: [email, phone]`
narrows it to some kinds.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

PLACEHOLDERS = {
    "secret": "[SECRET]",
    "email": "[EMAIL]",
    "id_number": "[ID_NUMBER]",
    "phone": "[PHONE]",
    "bank_card": "[BANK_CARD]",
}
KINDS = tuple(PLACEHOLDERS)

_NOT_DIGIT_BEFORE = r"(?<![\dA-Za-z])"
_NOT_DIGIT_AFTER = r"(?![\dA-Za-z])"
_SECRET_KEYS = (
    r"(?i:password|passwd|passcode|pwd|pin|token|api[_ -]?key|secret|access[_ -]?key)"
    r"|密码|口令|验证码|支付密码|登录密码"
)
_SECRET_VALUE = r"[^\s，。,;；、)）\]】\"'”’]+"
_PATTERNS = {
    # the key and separator are kept in group `keep`; the value after them is replaced
    "secret": (
        rf"(?P<keep>(?:{_SECRET_KEYS})\s*(?:[:=：]|是|为|is\b)\s*){_SECRET_VALUE}"
        r"|\bsk-[A-Za-z0-9_-]{20,}"
    ),
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "id_number": (
        rf"{_NOT_DIGIT_BEFORE}[1-9]\d{{5}}(?:18|19|20)\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{{3}}[\dXx]"
        rf"{_NOT_DIGIT_AFTER}"
    ),
    "bank_card": rf"{_NOT_DIGIT_BEFORE}(?:\d{{4}}[ -]){{3,4}}\d{{1,4}}{_NOT_DIGIT_AFTER}"
    rf"|{_NOT_DIGIT_BEFORE}\d{{13,19}}{_NOT_DIGIT_AFTER}",
    "phone": (
        rf"{_NOT_DIGIT_BEFORE}(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{{4}}[ -]?\d{{4}}{_NOT_DIGIT_AFTER}"  # China mobile
        rf"|{_NOT_DIGIT_BEFORE}0\d{{2,3}}-\d{{7,8}}{_NOT_DIGIT_AFTER}"  # China landline
        r"|\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)"  # international, with a leading +
        rf"|(?:\(\d{{3}}\)\s?|{_NOT_DIGIT_BEFORE}\d{{3}}[-.])\d{{3}}[-.]\d{{4}}{_NOT_DIGIT_AFTER}"  # North American
    ),
}
# Which kinds a text may hold, from cheap tests: most messages skip the regular expressions, and the others run
# only the alternatives they may match.
_DIGIT_RUN = re.compile(r"\d{3}")
_ALL_CANDIDATES = {
    (secret, email, digits): frozenset(
        k for k, on in (("secret", secret), ("email", email), ("id_number", digits), ("phone", digits),
                        ("bank_card", digits)) if on
    )
    for secret in (False, True) for email in (False, True) for digits in (False, True)
}  # fmt: skip


def _candidates(text: str) -> frozenset[str]:
    low = text.lower()
    secret = (
        "密码" in text or "口令" in text or "验证码" in text or "pass" in low or "pwd" in low or "pin" in low
        or "token" in low or "key" in low or "secret" in low or "sk-" in low
    )  # fmt: skip
    return _ALL_CANDIDATES[secret, "@" in text, _DIGIT_RUN.search(text) is not None]


def parse_kinds(value: object, what: str = "scrub") -> frozenset[str]:
    """The kinds a `scrub:` option asks for: true (all), false (none) or a list of kinds. Raises ValueError."""
    if value is None or value is True:
        return frozenset(KINDS)
    if value is False:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{what}` must be true, false or a list of kinds ({', '.join(KINDS)})")
    for v in value:
        if v not in KINDS:
            close = difflib.get_close_matches(v, KINDS, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown `{what}` kind {v!r} (known: {', '.join(KINDS)}){hint}")
    return frozenset(value)


@cache
def _regex(kinds: frozenset[str]) -> re.Pattern[str]:
    alternatives = [f"(?P<{k}>{_PATTERNS[k]})" for k in KINDS if k in kinds]
    return re.compile("|".join(alternatives))


class Scrubber:
    """Replaces the personal values of some kinds by placeholders, counting each kind in `counts`."""

    def __init__(self, kinds: Iterable[str], counts: Counter[str]) -> None:
        self.kinds = frozenset(kinds)
        self.counts = counts

    def _replace(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        assert kind is not None
        # `lastgroup` names the outermost group that matched: a kind, since `keep` is nested inside `secret`
        self.counts[kind] += 1
        keep = m.group("keep") if kind == "secret" else None
        return (keep or "") + PLACEHOLDERS[kind]

    def __call__(self, text: str) -> str:
        if not self.kinds:
            return text
        kinds = _candidates(text) & self.kinds
        if not kinds:
            return text
        return _regex(kinds).sub(self._replace, text)
