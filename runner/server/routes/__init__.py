"""HTTP routes, one module per resource; each exposes a Flask blueprint."""

from __future__ import annotations

import flask

from runner.server.context import ServerContext


def ctx() -> ServerContext:
    """The context of the app answering the current request."""
    context = flask.current_app.extensions["ftrun"]
    assert isinstance(context, ServerContext)
    return context
