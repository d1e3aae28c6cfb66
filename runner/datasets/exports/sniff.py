"""Tell which format a file looks like, for the error when its content does not match its declared `format`."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from runner.datasets.sources import SourceError

SNIFF_BYTES = 64 * 1024

WECHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime"
CHATLOG_HEADER = "Time,SenderName,Sender,TalkerName,Talker,Content"
WHATSAPP_ANDROID = re.compile(
    r"^\u200e?(\d{1,4})[./-](\d{1,2})[./-](\d{1,4}),?\s(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:[\s\u202f\u00a0]?([AaPp])\.?\s?[Mm]\.?)?\s[-–]\s(.*)$"
)
WHATSAPP_IOS = re.compile(
    r"^\u200e?\[(\d{1,4})[./-](\d{1,2})[./-](\d{1,4}),?\s(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:[\s\u202f\u00a0]?([AaPp])\.?\s?[Mm]\.?)?\]\s(.*)$"
)


class FormatMismatch(SourceError):
    """The file's content is not of its declared format."""

    def __init__(self, declared: str, message: str, line: int | None) -> None:
        super().__init__(message, line)
        self.declared = declared


def header_of(lines: Iterator[str]) -> tuple[list[str], str]:
    """The first line of a CSV as its field names, and the line itself (to be read again with the rows)."""
    first = next(lines, "")
    try:
        header = next(csv.reader([first]), [])
    except csv.Error as e:
        raise SourceError(f"unreadable CSV header: {e}", 1) from e
    return [h.strip() for h in header], first


def _has(text: str, *keys: str) -> bool:
    return all(re.search(rf'"{re.escape(k)}"\s*:', text) for k in keys)


def looks_like(data: bytes | Path) -> str | None:
    """The format a file's first bytes suggest, or None."""
    if isinstance(data, Path):
        with data.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    else:
        head = data[:SNIFF_BYTES]
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        if _has(text, "messages") and (_has(text, "from_id") or _has(text, "date_unixtime") or _has(text, "chats")):
            return "telegram"
        if _has(text, "chats", "list"):
            return "telegram"
        if _has(text, "instruction", "output"):
            return "alpaca"
        if _has(text, "conversations", "from", "value"):
            return "sharegpt"
        if _has(text, "prompt", "completion"):
            return "prompt_completion"
        if _has(text, "talker", "isSelf") or _has(text, "talker", "content", "sender"):
            return "chatlog"
        if _has(text, "messages", "role", "content"):
            return "sharegpt"
        return None
    first = text.splitlines()[0] if text else ""
    if first.startswith(WECHAT_HEADER):
        return "wechat"
    if first.startswith(CHATLOG_HEADER):
        return "chatlog"
    for line in text.splitlines()[:20]:
        if line.strip():
            if WHATSAPP_ANDROID.match(line) or WHATSAPP_IOS.match(line):
                return "whatsapp"
            break
    names = {h.strip().lower() for h in first.split(",")}
    if {"time", "sender", "text"} <= names:
        return "chat_history"
    if "," in first:
        return "csv"
    return None


def hint_for(declared: str, data: bytes | Path) -> str:
    """The end of an error saying which format the file looks like, when that is another one; else ""."""
    try:
        guess = looks_like(data)
    except OSError:
        return ""
    if guess is None or guess == declared:
        return ""
    if guess == "csv":
        return "; it looks like a plain CSV file (format: csv, with a template)"
    return f"; it looks like a {guess} file (format: {guess})"
