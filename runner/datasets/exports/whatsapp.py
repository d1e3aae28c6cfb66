"""WhatsApp's "Export chat" text file, in either of its line forms:

- Android: `12/31/23, 10:15 PM - Alice: hi` (or `31/12/2023, 22:15 - Alice: hi`, with dots or dashes in the date);
- iOS: `[31/12/2023, 22:15:03] Alice: hi` (often with an invisible left-to-right mark first).

A line that does not start a message continues the one before it (a message over several lines). Lines without a
sender (`Messages and calls are end-to-end encrypted`, `Alice added Bob`) are system lines, counted as not text;
`<Media omitted>` and the like are media. Whether dates are day first or month first is read from the file (a first
field over 12 is a day, a second field over 12 is a day); `date_order: day_first` or `month_first` sets it, and a
file that never tells fails asking for it. A date whose first field has four digits is year first. `me` is my
name as the export writes it. The file is one chat, one stream; it is read twice when the date order is detected
(each time streamed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning, strip_media
from runner.datasets.conversations import GroupingOptions, Message, check_keys
from runner.datasets.exports.lines import text_lines
from runner.datasets.exports.sniff import WHATSAPP_ANDROID, WHATSAPP_IOS, FormatMismatch
from runner.datasets.sources import SourceError

DATE_ORDERS = ("auto", "day_first", "month_first")
# a line that starts like a message (a date and a time) but in neither form
_LIKE_A_MESSAGE = re.compile(r"^\u200e?\[?\d{1,4}[./-]\d{1,2}[./-]\d{1,4},?\s+\d{1,2}[:.]\d{2}")


class WhatsappOptions:
    KEYS = frozenset({"me", "date_order", *GroupingOptions.KEYS})

    def __init__(self, options: Mapping[str, Any]) -> None:
        check_keys("whatsapp", options, self.KEYS)
        me = options.get("me")
        if not isinstance(me, str) or not me.strip():
            raise ValueError("whatsapp needs `me`: your name as the export writes it")
        self.me = me.strip()
        order = options.get("date_order", "auto")
        if order not in DATE_ORDERS:
            raise ValueError(f"`date_order` must be one of {', '.join(DATE_ORDERS)}, not {order!r}")
        self.date_order = str(order)
        self.grouping = GroupingOptions.from_mapping(options)


def _match(line: str) -> re.Match[str] | None:
    return WHATSAPP_IOS.match(line) or WHATSAPP_ANDROID.match(line)


def detect_date_order(data: bytes | Path) -> str:
    """day_first or month_first, from the first date that tells; a year-first file is either."""
    for line in text_lines(data):
        m = _match(line.rstrip("\r\n"))
        if m is None:
            continue
        a, b = m.group(1), m.group(2)
        if len(a) == 4:
            return "day_first"  # year first: the order of day and month does not matter then
        if int(a) > 12:
            return "day_first"
        if int(b) > 12:
            return "month_first"
    raise SourceError(
        "cannot tell whether the dates are day first or month first (no day is over 12); "
        "set `date_order: day_first` or `date_order: month_first` in the source",
        None,
    )


def _when(m: re.Match[str], day_first: bool, line: int) -> datetime:
    a, b, c, hour, minute, second, ampm = m.group(1, 2, 3, 4, 5, 6, 7)
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    else:
        year = int(c) + (2000 if len(c) <= 2 else 0)
        day, month = (int(a), int(b)) if day_first else (int(b), int(a))
    h = int(hour)
    if ampm:
        if not 1 <= h <= 12:
            raise SourceError(f"hour {h} with AM/PM", line)
        h = h % 12 + (12 if ampm.lower() == "p" else 0)
    try:
        return datetime(year, month, day, h, int(minute), int(second or 0))
    except ValueError as e:
        raise SourceError(f"not a date: {m.group(0)[:40]!r} ({e})", line) from e


def messages(data: bytes | Path, opts: WhatsappOptions, cleaning: Cleaning) -> Iterator[Message]:
    order = opts.date_order if opts.date_order != "auto" else None
    form: re.Pattern[str] | None = None
    pending: tuple[int, datetime, str, list[str]] | None = None  # line, time, sender, text lines

    def flush() -> Iterator[Message]:
        if pending is not None:
            line, when, sender, texts = pending
            yield Message(line, "", when, sender, sender == opts.me, "\n".join(texts))

    for lineno, raw in enumerate(text_lines(data), start=1):
        line = raw.rstrip("\r\n")
        m = form.match(line) if form is not None else None
        if m is None and form is None and line.strip():
            m = _match(line)
            if m is None:
                raise FormatMismatch(
                    "whatsapp",
                    "not a WhatsApp message line (expected the Android form `12/31/23, 10:15 PM - Name: text` "
                    "or the iOS form `[31/12/2023, 22:15:03] Name: text`)",
                    lineno,
                )
            form = WHATSAPP_IOS if m.re is WHATSAPP_IOS else WHATSAPP_ANDROID
        if m is None:
            if _LIKE_A_MESSAGE.match(line):
                raise SourceError(
                    "a WhatsApp line in an unknown form (the file's earlier lines use the "
                    f"{'iOS' if form is WHATSAPP_IOS else 'Android'} form)",
                    lineno,
                )
            if pending is not None:
                pending[3].append(line)
            continue  # else the continuation of a system line, counted with it
        if order is None:
            order = detect_date_order(data)
        yield from flush()
        pending = None
        when = _when(m, order == "day_first", lineno)
        rest = m.group(8)
        sender, sep, text = rest.partition(": ")
        if not sep or rest.startswith("\u200e") or (text.startswith("\u200e") and not strip_media(text)[1]):
            cleaning.skip("wrong_type")  # a system line: no sender, or (iOS) the chat's name and a marked text
            continue
        pending = (lineno, when, sender.strip().lstrip("\u200e~\u202f "), [text])
    yield from flush()
