"""The built-in OpenAI-compatible fine-tuning server.

`create_app(data_dir)` builds the Flask app (run it in-process through a WSGI transport, or under any WSGI server);
`runner.server.serve.serve(...)` runs it as a standalone service on 127.0.0.1:9527 by default. Training happens in a
detached worker process (`python -m runner.server.worker`) so that jobs outlive the process that created them. Nothing
here imports torch or transformers; the trainers in `runner.server.training` import them when they run. Flask is
imported on first use of `create_app`: the parts that need no web framework (the store, `reads`) load without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from runner.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
