"""Domain errors that operations raise, and the error pages that share the site's layout."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message names the variable to set."""


class OperationRefused(Exception):
    """An operation cannot be done as asked. `message` is fit to show to the user;
    `field` names the form field it belongs to, when it belongs to one. `http_status` is what a route
    answers with: 422 (the input cannot be applied) unless a subclass says otherwise, e.g. 409 for a
    conflict with what someone else did meanwhile. Routes read it; they never parse the message."""

    http_status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(OperationRefused):
    """Someone else changed the record meanwhile (a stale form, a lost race): 409."""

    http_status = 409


_TITLES = {
    400: "The request could not be understood",
    401: "Please sign in",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "The upload is too large",
    429: "Too many requests",
    500: "Something went wrong on our side",
}


# The machine-readable code of an HTTP error in the JSON shape of DESIGN 5.2.
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests", 500: "server_error"}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, message: str | None = None):
    """An error response in the site's layout (or the JSON error shape under /api/)."""
    return _render(status, message)


def _render(status: int, message: str | None = None):
    title = _TITLES.get(status, "Error")
    if _wants_json():
        return {"error": {"code": _CODES.get(status, "error"), "message": message or title, "fields": {}}}, status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        app.logger.warning('CSRF refused: %s', error.description)
        return _render(
            400,
            "This form had expired or was sent from another page, so nothing was saved. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        body, status = _render(error.code or 500)
        # Keep the headers the exception carries (405's Allow, 401's WWW-Authenticate), as RFC 9110 asks.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, "The error has been logged. Please try again in a moment.")
