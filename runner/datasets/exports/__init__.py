"""Chat exports, read where people have them: WeChat (WeChatMsg/MemoTrace CSV), chatlog (CSV or JSON), Telegram
Desktop (result.json) and WhatsApp (the exported text file). Each reader streams its file into messages (who, when,
what, whether it is mine, which chat); conversations.py groups them into conversations, cleans and scrubs them, and
the counts of what was left out come back in the Cleaning tally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.datasets.cleaning import Cleaning
from runner.datasets.conversations import ConversationError, GroupingOptions, Message, conversations
from runner.datasets.exports import chatlog, telegram, wechat, whatsapp
from runner.datasets.exports.sniff import FormatMismatch, hint_for
from runner.datasets.sources import Record, SourceError

_Reader = Callable[[bytes | Path, Any, Cleaning], Iterator[Message]]
READERS: Mapping[str, tuple[Callable[[Mapping[str, Any]], Any], _Reader]] = {
    "wechat": (wechat.WechatOptions, wechat.messages),
    "chatlog": (chatlog.ChatlogOptions, chatlog.messages),
    "telegram": (telegram.TelegramOptions, telegram.messages),
    "whatsapp": (whatsapp.WhatsappOptions, whatsapp.messages),
}
FORMATS = tuple(READERS)


def read_export(data: bytes | Path, fmt: str, options: Mapping[str, Any], cleaning: Cleaning) -> Iterator[Record]:
    """One record per conversation of a chat export (fields as Conversation.as_fields)."""
    make_options, reader = READERS[fmt]
    try:
        opts = make_options(options)
    except ValueError as e:
        raise SourceError(str(e), None) from e
    grouping: GroupingOptions = opts.grouping
    try:
        for conv in conversations(reader(data, opts, cleaning), grouping, cleaning):
            yield Record(conv.line, conv.as_fields())
    except ConversationError as e:
        raise SourceError(str(e), e.line) from e
    except FormatMismatch as e:
        raise SourceError(f"not a {fmt} export: {e}{hint_for(fmt, data)}", e.line) from e
    except SourceError as e:
        if e.line == 1:  # the first line already failed: perhaps the file is of another format
            raise SourceError(f"{e}{hint_for(fmt, data)}", e.line) from e
        raise
