"""The built-in OpenAI-compatible fine-tuning server.

`create_app(data_dir)` builds the Flask app (run it in-process through a WSGI transport, or under any WSGI server);
`serve(...)` runs it as a standalone service on 127.0.0.1:9527 by default. Training happens in a detached worker
process (`python -m runner.server.worker`) so that jobs outlive the process that created them. Nothing here imports
torch or transformers; the trainers in `runner.server.training` import them when they run.
"""

from __future__ import annotations

from runner.server.app import create_app
from runner.server.serve import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, UnsafeBind, serve

__all__ = ["DEFAULT_DATA_DIR", "DEFAULT_HOST", "DEFAULT_PORT", "UnsafeBind", "create_app", "serve"]
