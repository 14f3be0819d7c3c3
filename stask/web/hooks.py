"""The hook URLs of triggers: public, machine to machine, and good for nothing else.

``POST <prefix>/hooks/<token>`` starts the trigger's action with the JSON body as its data;
``GET <prefix>/hooks/<token>/tasks/<id>`` follows a task that URL started. No session, no bearer
token, no CSRF (the token is the credential, and no browser form posts here); the blueprint is
outside the guarded ones, so the guard only bounds the body.

What a caller without the right token learns: nothing. An unknown, rotated or disabled token,
and a task the trigger did not start, are answered with the very 404 the app gives for any
unknown path under ``/hooks/`` (werkzeug's ``NotFound``, through the same handler; paths under
``/hooks/`` always get JSON, see :func:`stask.web.errors.wants_json`).

The order of the checks (see :mod:`stask.service.triggers`): the declared body size (413, before
any lookup or read), the token (404), the rate limit (429 with ``Retry-After``), then the body
is read (at most ``STASK_TRIGGER_MAX_BODY_KB``) and the service checks the signature (401), the
JSON (400) and the action's fields (400) before writing anything.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import NotFound

from ..exceptions import TooLarge
from ..notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from ..service import current_stask
from ..service.triggers import TriggerThrottled, hook_path
from ..validation import parse_id
from .api import ok
from .auth import _client_address
from .errors import error_response

hooks_bp = Blueprint("stask_hooks", __name__)


def hook_url(token: str) -> str:
    """The absolute URL of a token's hook (the path alone outside a request without SERVER_NAME)."""
    try:
        return url_for("stask_hooks.call", token=token, _external=True)
    except RuntimeError:
        return hook_path(current_stask().settings.url_prefix, token)


@hooks_bp.post("/hooks/<token>")
def call(token: str) -> Response:
    """201 ``{"id", "status_url"}``: the task is stored and queued."""
    service = current_stask()
    limit = service.settings.trigger_max_body_kb << 10
    too_large = TooLarge(f"a trigger takes a body of at most {service.settings.trigger_max_body_kb} KiB")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    # A streamed body is read up to one byte past the limit (werkzeug would cut it off there silently).
    request.max_content_length = limit + 1
    trigger = service.triggers.by_token(token)
    if trigger is None:
        raise NotFound()
    try:
        service.triggers.throttle(trigger)
    except TriggerThrottled as exc:
        return error_response(exc.code, str(exc), exc.http_status, {"Retry-After": str(exc.retry_after)})
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise too_large
    signature = {name: request.headers.get(name, "") for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)}
    task = service.triggers.fire(trigger, body, signature, _client_address())
    status_url = url_for("stask_hooks.task_status", token=token, task_id=str(task.id), _external=True)
    return ok(201, id=task.id, status_url=status_url)


@hooks_bp.get("/hooks/<token>/tasks/<task_id>")
def task_status(token: str, task_id: str) -> Response:
    """A task this trigger started: id, status, progress, message, when it was created and ended."""
    service = current_stask()
    number = parse_id(task_id)
    trigger = service.triggers.by_token(token) if number is not None else None
    shown = service.triggers.task_status(trigger, number) if trigger is not None and number is not None else None
    if shown is None:
        raise NotFound()
    return ok(**shown)
