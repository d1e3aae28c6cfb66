"""What reading a source left out or changed, counted: messages and records skipped by reason, values scrubbed by kind.

Readers of chat exports and dataset formats never drop anything silently: every message or record they leave out is
counted under one of SKIP_REASONS, and every personal value the scrubber replaces under its kind (see scrub.py).
The counts travel with the rendered data (they are cached with it) and come back as info diagnostics, so
`ftrun validate`, `ftrun plan` and `ftrun render` all show them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

# Part of the render cache's key: bump when what a reader keeps, drops or scrubs changes, so that cached renderings
# of unchanged sources are made again.
READERS_VERSION = "1"

# reason → how a diagnostic says it
SKIP_REASONS: Mapping[str, str] = {
    "wrong_type": "not a text message (system lines, calls, service messages, other message types)",
    "media": "media placeholders ([图片], [语音], <Media omitted>, ...)",
    "empty": "empty",
    "no_reply": "in a session where I never replied",
    "after_last_reply": "after my last reply in a session (nothing to learn from)",
    "duplicate": "duplicates",
    "too_long": "longer than max_message_chars",
}


@dataclass
class Cleaning:
    """A tally a reader fills in as it goes."""

    unit: str = "message"  # what the skipped things are: "message" (chat exports) or "record" (dataset formats)
    skipped: Counter[str] = field(default_factory=Counter)
    scrubbed: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, n: int = 1) -> None:
        assert reason in SKIP_REASONS, reason
        if n:
            self.skipped[reason] += n

    def to_doc(self) -> dict[str, object]:
        return {"unit": self.unit, "skipped": dict(self.skipped), "scrubbed": dict(self.scrubbed)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, object] | None) -> Cleaning:
        if not doc:
            return cls()
        skipped = doc.get("skipped") or {}
        scrubbed = doc.get("scrubbed") or {}
        assert isinstance(skipped, dict) and isinstance(scrubbed, dict)
        return cls(str(doc.get("unit") or "message"), Counter(skipped), Counter(scrubbed))

    def lines(self) -> list[tuple[str, str]]:
        """(check name, sentence) for each non-zero count, skipped reasons first, in a fixed order."""
        out = []
        for reason, words in SKIP_REASONS.items():
            n = self.skipped.get(reason, 0)
            if n:
                out.append((f"skipped_{reason}", f"{n:,} {self.unit}(s) left out: {words}"))
        for kind in sorted(self.scrubbed):
            n = self.scrubbed[kind]
            if n:
                out.append((f"scrubbed_{kind}", f"{n:,} {kind.replace('_', ' ')} value(s) scrubbed (personal data)"))
        return out


# Placeholders chat apps write instead of a photo, voice message, sticker, call or file. A message that is nothing
# but placeholders is counted as media; bracketed placeholders inside a text are taken out of it.
_BRACKETED = [
    # WeChat / chatlog (Chinese and English clients)
    r"\[(?:图片|语音|视频|表情|动画表情|文件|位置|链接|名片|红包|转账|语音通话|视频通话|音乐|小程序|聊天记录)\]",
    r"\[(?:Photo|Image|Sticker|Voice|Video|File|Location|Link|Emoji|Animated Sticker|Voice Call|Video Call)\]",
    # WhatsApp (Android and iOS)
    r"<Media omitted>",
    r"<(?:attached|附件)[:：][^>\n]*>",
    r"<This message was edited>",
]
_WHOLE_ONLY = [  # ordinary words inside a sentence, placeholders only as a whole message
    r"(?:image|video|audio|sticker|GIF|document|Contact card) omitted",
    r"This message was deleted\.?",
    r"You deleted this message\.?",
    r"null",  # WhatsApp on Android writes `null` for a view-once photo
]
_INLINE_RE = re.compile("|".join(_BRACKETED))
_WHOLE_RE = re.compile(r"(?:\s*(?:" + "|".join(_BRACKETED + _WHOLE_ONLY) + r"))+\s*")
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202c\ufeff"))
_HAS_INVISIBLE = re.compile("[\u200e\u200f\u202a\u202c\ufeff]")
_WHOLE_STARTS = frozenset("[<ivasGdCTYn")  # the first characters of the placeholders above


def strip_media(text: str) -> tuple[str, bool]:
    """The text without media placeholders and invisible direction marks, and whether it had any placeholder."""
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    text = text.strip()
    if not text:
        return "", False
    if text[0] in _WHOLE_STARTS and _WHOLE_RE.fullmatch(text):
        return "", True
    if "[" in text or "<" in text:
        inner, n = _INLINE_RE.subn("", text)
        return inner.strip(), n > 0
    return text, False
