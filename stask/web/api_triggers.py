"""The triggers' JSON API: list, create, read, change, delete, and rotate a token.

Routes live on the API blueprint (``/stask/api/triggers...``); reading needs any role, writing
the admin role, and every change leaves an audit row. A token (and a signing secret) is in the
answer that made it, never in another: no GET shows it. The calls themselves go to
:mod:`stask.web.hooks`; the OpenAPI description is :mod:`stask.web.openapi_triggers`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..exceptions import InvalidField
from ..service import current_stask
from ..service.listing import parse_worker_page_query
from ..service.triggers import FIELDS, Issued
from .api import api_bp, json_body, ok
from .audit_trail import record
from .auth import require_write
from .hooks import hook_url

#: Who created a trigger through the API (``created_by``).
CREATED_BY = "api"
ROTATE_FIELDS = frozenset({"secret"})


def trigger_details(trigger: Any) -> dict[str, Any]:
    """An audit row's details: names, never the token or the secret."""
    return {"name": trigger.name, "identifier": trigger.identifier, "action": trigger.action}


def issued_answer(issued: Issued) -> dict[str, Any]:
    """The trigger, and what was made for it just now (shown this once)."""
    answer: dict[str, Any] = {"id": issued.trigger.id}
    if issued.token is not None:
        answer.update(token=issued.token, url=hook_url(issued.token))
    if issued.secret is not None:
        answer["secret"] = issued.secret
    return {**answer, "trigger": issued.trigger.to_dict()}


@api_bp.get("/api/triggers")
def list_triggers() -> Response:
    """Triggers by name, a page at a time; ``identifier`` keeps one worker's."""
    query = parse_worker_page_query(request.args)
    page = current_stask().triggers.page(query.identifier, query.page, query.per_page)
    return ok(**page.to_dict())


@api_bp.post("/api/triggers")
@require_write
def create_trigger() -> Response:
    issued = current_stask().triggers.create(json_body(allowed=FIELDS, required=True), created_by=CREATED_BY)
    record("trigger.create", f"trigger:{issued.trigger.id}", trigger_details(issued.trigger))
    return ok(201, **issued_answer(issued))


@api_bp.get("/api/triggers/<id:trigger_id>")
def get_trigger(trigger_id: int) -> Response:
    return ok(trigger=current_stask().triggers.get(trigger_id).to_dict())


@api_bp.put("/api/triggers/<id:trigger_id>")
@require_write
def update_trigger(trigger_id: int) -> Response:
    """Change the fields given (the others are kept); ``signed`` turned on answers the new secret once."""
    body = json_body(allowed=FIELDS, required=True)
    issued = current_stask().triggers.update(trigger_id, body)
    record("trigger.update", f"trigger:{trigger_id}", {**trigger_details(issued.trigger), "fields": sorted(body)})
    answer = issued_answer(issued)
    answer.pop("id")
    return ok(**answer)


@api_bp.delete("/api/triggers/<id:trigger_id>")
@require_write
def delete_trigger(trigger_id: int) -> Response:
    triggers = current_stask().triggers
    details = trigger_details(triggers.get(trigger_id))
    triggers.delete(trigger_id)
    record("trigger.delete", f"trigger:{trigger_id}", details)
    return ok(id=trigger_id)


@api_bp.post("/api/triggers/<id:trigger_id>/rotate")
@require_write
def rotate_trigger(trigger_id: int) -> Response:
    """A new token (the old URL stops at once); ``{"secret": true}`` replaces the signing secret too."""
    body = json_body(allowed=ROTATE_FIELDS)
    secret = body.get("secret", False)
    if not isinstance(secret, bool):
        raise InvalidField("secret", "secret must be true or false")
    issued = current_stask().triggers.rotate(trigger_id, secret=secret)
    record("trigger.rotate", f"trigger:{trigger_id}", {**trigger_details(issued.trigger), "secret": secret})
    return ok(**issued_answer(issued))
