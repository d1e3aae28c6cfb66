"""OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`, and the Flask handlers that emit it.

Flask is imported by the handlers only: the errors are raised by code that also runs without it (runner.server.reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import flask
    from werkzeug.exceptions import HTTPException


@dataclass(eq=False)
class ApiError(Exception):
    """An error answered to the client; raised anywhere in a request, rendered by the handler below."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> flask.Response:
        import flask

        resp = flask.jsonify(self.body())
        resp.status_code = self.status
        return resp


def invalid(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", param, code)


def not_found(message: str, param: str | None = "id", code: str | None = None) -> ApiError:
    return ApiError(404, message, "invalid_request_error", param, code)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "invalid_request_error", None, "invalid_api_key")


def _http_error(e: HTTPException) -> flask.Response:
    import flask

    status = e.code or 500
    if status == 413:
        message = "Request body too large."
    elif status == 404:
        message = f"Invalid URL ({flask.request.method} {flask.request.path})"
    elif status == 405:
        message = f"Method {flask.request.method} is not allowed for {flask.request.path}"
    else:
        message = e.description or e.name
    return ApiError(status, message, "invalid_request_error", None, None).response()


def _server_error(e: Exception) -> flask.Response:
    import flask

    flask.current_app.logger.exception("unhandled error")
    return ApiError(500, "The server had an error while processing your request.", "server_error").response()


def register(app: flask.Flask) -> None:
    from werkzeug.exceptions import HTTPException

    app.register_error_handler(ApiError, lambda e: e.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
