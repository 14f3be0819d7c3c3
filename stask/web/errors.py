"""One error shape for every stask response: ``{"success": false, "error": {"code", "message"}}``.

JSON clients get that shape with the right 4xx status, even for routing errors (unknown URL,
wrong method, body too large) under the stask prefix; a browser asking for a page gets the
same code and message on a small HTML page instead. Requests outside stask (a host
application's own views) are left to the host's handlers.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from ..exceptions import StaskError
from ..service import current_stask

log = logging.getLogger("stask")

#: Blueprints whose views belong to stask (see ``register_web``).
STASK_BLUEPRINTS = frozenset({"stask_auth", "stask_panel", "stask_api", "stask_monitoring"})
#: Blueprints that only ever answer JSON.
JSON_BLUEPRINTS = frozenset({"stask_api", "stask_hooks"})

#: Error codes for HTTP statuses raised by Flask/Werkzeug (routing, body size, ...).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def url_prefix() -> str:
    """Where stask is mounted (``STASK_URL_PREFIX``), without a trailing slash."""
    return current_stask().settings.url_prefix.rstrip("/")


def is_stask_request() -> bool:
    """Whether the current request is for stask (a stask view, or any URL under the prefix)."""
    if request.blueprint in STASK_BLUEPRINTS:
        return True
    prefix = url_prefix()
    return not prefix or request.path == prefix or request.path.startswith(prefix + "/")


def wants_json() -> bool:
    """JSON unless a browser asks for a page: API views, ``/api/`` URLs and non-HTML clients get JSON.

    Under ``/hooks/`` too, known route or not: a trigger's unknown token must be answered exactly
    as an unknown path is (:mod:`stask.web.hooks`), whatever the client accepts.
    """
    prefix = url_prefix()
    if request.blueprint in JSON_BLUEPRINTS or request.path.startswith((prefix + "/api/", prefix + "/hooks/")):
        return True
    if request.headers.get("HX-Request") == "true":
        return False
    if request.is_json:
        return True
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html"


def json_error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """The one error response of the API."""
    response = jsonify({"success": False, "error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def html_error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """The same error as a small page; falls back to bare HTML if the panel templates fail."""
    try:
        body = render_template("stask/error.html", code=code, message=message, status=status)
    except TemplateNotFound:
        body = _bare_page(code, message, status)
    except Exception:  # a broken template must not hide the original error
        log.exception("stask: could not render the error page")
        body = _bare_page(code, message, status)
    response = Response(body, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _bare_page(code: str, message: str, status: int) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Error</title></head>"
        f"<body><h1>{status}</h1><p>{escape(message)}</p><p><code>{escape(code)}</code></p></body></html>"
    )


def error_response(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """JSON or HTML, whichever the client asked for."""
    if wants_json():
        return json_error(code, message, status, headers)
    return html_error(code, message, status, headers)


def register_error_handlers(app: Flask) -> None:
    """Turn StaskError, HTTP errors and unexpected exceptions under the prefix into the error shape.

    Handlers are registered by class (``HTTPException``), so a host's handlers for specific
    codes keep precedence, and they re-raise or delegate for requests that are not stask's.
    """
    previous_http = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

    def handle_stask_error(exc: StaskError) -> Response:
        if not is_stask_request():
            raise exc
        return error_response(exc.code, str(exc), exc.http_status, exc.headers())

    def handle_http(exc: HTTPException) -> Any:
        if not is_stask_request():
            return previous_http(exc) if previous_http else exc
        status = exc.code or 500
        headers = {}
        if status == 405:
            allowed = exc.get_response().headers.get("Allow")
            if allowed:
                headers["Allow"] = allowed
        code = HTTP_CODES.get(status, f"http_{status}")
        message = exc.description or exc.name
        if status == 413:
            message = "the request body is too large"
        return error_response(code, message, status, headers)

    def handle_unexpected(exc: Exception) -> Response:
        if not is_stask_request():
            raise exc
        log.exception("stask: unexpected error on %s %s", request.method, request.path)
        return error_response("internal_error", InternalServerError.description, 500)

    app.register_error_handler(StaskError, handle_stask_error)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
