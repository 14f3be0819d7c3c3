"""The schedules' JSON API: list, create, read, change, delete, pause, resume and run now.

Routes live on the API blueprint (``/stask/api/schedules...``); reading needs any role,
writing the admin role. The OpenAPI description is :mod:`stask.web.openapi_schedules`; each
change is a row in the audit log (target ``schedule:<id>``, the names of the fields changed).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..exceptions import InvalidField
from ..service import current_stask
from ..service.listing import PRIORITIES, parse_worker_page_query
from ..service.schedules import FIELDS, changed_fields, field_values
from ..validation import parse_api_datetime
from .api import api_bp, json_body, ok
from .audit_trail import record
from .auth import require_write

#: Who created a schedule through the API (``created_by``).
CREATED_BY = "api"
#: Fields the service reads "missing" into a default from ``None`` or "" (a declaration in code
#: leaves them out so); in a request they must be what the document says, or be left out.
_STRINGS = ("name", "timezone", "misfire", "overlap", "priority")


def _as_documented(body: dict[str, Any]) -> dict[str, Any]:
    """The body as strictly as the OpenAPI document states it.

    The service (shared with the CLI and the schedules declared in code) is more forgiving: it
    reads a null or empty name, zone or policy as the default, folds a priority's case, takes a
    false jitter as 0 and a space between a date and its time. The rest is the service's.
    """
    for key in _STRINGS:
        if key in body and not (isinstance(body[key], str) and body[key]):
            raise InvalidField(key, f"{key} must be a non-empty string (leave it out for the default)")
    if "priority" in body and body["priority"] not in PRIORITIES:
        raise InvalidField("priority", f"priority must be one of {', '.join(PRIORITIES)}")
    if "jitter" in body and (isinstance(body["jitter"], bool) or not isinstance(body["jitter"], int)):
        raise InvalidField("jitter", "jitter must be a whole number of seconds")
    for key in ("start_date", "end_date"):
        if key in body:
            parse_api_datetime(body[key], key)  # the service reads the string as written again
    return body


@api_bp.get("/api/schedules")
def list_schedules() -> Response:
    """Schedules by id, a page at a time; ``identifier`` keeps one worker's (the list rules of tasks)."""
    query = parse_worker_page_query(request.args)
    page = current_stask().schedules.page(query.identifier, query.page, query.per_page)
    return ok(**page.to_dict())


@api_bp.post("/api/schedules")
@require_write
def create_schedule() -> Response:
    body = _as_documented(json_body(allowed=FIELDS, required=True))
    schedule = current_stask().schedules.create(body, created_by=CREATED_BY)
    record("schedule.create", f"schedule:{schedule.id}", {"identifier": schedule.identifier, "action": schedule.action})
    return ok(201, id=schedule.id, schedule=schedule.to_dict())


@api_bp.get("/api/schedules/<id:schedule_id>")
def get_schedule(schedule_id: int) -> Response:
    return ok(schedule=current_stask().schedules.get(schedule_id).to_dict())


@api_bp.put("/api/schedules/<id:schedule_id>")
@require_write
def update_schedule(schedule_id: int) -> Response:
    """Change the fields given (the others are kept); a schedule from code takes only ``enabled``."""
    body = _as_documented(json_body(allowed=FIELDS, required=True))
    service = current_stask().schedules
    before = field_values(service.get(schedule_id))
    schedule = service.update(schedule_id, body)
    record("schedule.update", f"schedule:{schedule_id}", {"fields": changed_fields(before, schedule)})
    return ok(schedule=schedule.to_dict())


@api_bp.delete("/api/schedules/<id:schedule_id>")
@require_write
def delete_schedule(schedule_id: int) -> Response:
    current_stask().schedules.delete(schedule_id)
    record("schedule.delete", f"schedule:{schedule_id}")
    return ok(id=schedule_id)


@api_bp.post("/api/schedules/<id:schedule_id>/pause")
@require_write
def pause_schedule(schedule_id: int) -> Response:
    schedule = current_stask().schedules.set_enabled(schedule_id, False).to_dict()
    record("schedule.pause", f"schedule:{schedule_id}")
    return ok(schedule=schedule)


@api_bp.post("/api/schedules/<id:schedule_id>/resume")
@require_write
def resume_schedule(schedule_id: int) -> Response:
    schedule = current_stask().schedules.set_enabled(schedule_id, True).to_dict()
    record("schedule.resume", f"schedule:{schedule_id}")
    return ok(schedule=schedule)


@api_bp.post("/api/schedules/<id:schedule_id>/run")
@require_write
def run_schedule(schedule_id: int) -> Response:
    """One task now, with the schedule's worker, action and data (no slot is consumed)."""
    task = current_stask().schedules.run_now(schedule_id)
    record("schedule.run", f"schedule:{schedule_id}", {"task": task.id})
    return ok(201, id=task.id, task=task.to_dict())
