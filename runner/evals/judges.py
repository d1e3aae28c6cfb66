"""Judge targets: the provider of a target that judge assertions name, connected only when a judge is first asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from runner.remote import ChatReply


class Chat(Protocol):
    """What evaluating needs of a target: one chat answer with its usage (a Provider has it)."""

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply: ...


class LazyProvider:
    """Chat through a provider made on first use (a judge target is connected only if a suite really asks it)."""

    def __init__(self, connect: Callable[[], Chat]) -> None:
        self._connect = connect
        self._provider: Chat | None = None
        self._lock = threading.Lock()

    def _get(self) -> Chat:
        with self._lock:
            if self._provider is None:
                self._provider = self._connect()
            return self._provider

    def chat_reply(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> ChatReply:
        return self._get().chat_reply(model, messages, **params)
