"""The schedules' JSON API: list, create, read, change, delete, pause, resume and run now.

Routes live on the API blueprint (``/stask/api/schedules...``); reading needs any role,
writing the admin role. The OpenAPI description is :mod:`stask.web.openapi_schedules`.
"""

from __future__ import annotations

from flask import Response, request

from ..exceptions import InvalidInput
from ..service import current_stask
from ..service.schedules import FIELDS, MAX_PER_PAGE
from ..validation import parse_digits
from .api import api_bp, json_body, ok
from .auth import require_write

#: Who created a schedule through the API (``created_by``).
CREATED_BY = "api"


def _page_arg(name: str, default: int, upper: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    number = parse_digits(raw)
    if number is None or not 1 <= number <= upper:
        raise InvalidInput(f"{name} must be a whole number from 1 to {upper}")
    return number


@api_bp.get("/api/schedules")
def list_schedules() -> Response:
    """Schedules by id, a page at a time; ``identifier`` keeps one worker's."""
    identifier = request.args.get("identifier", "").strip() or None
    page = current_stask().schedules.page(
        identifier, _page_arg("page", 1, 1_000_000), _page_arg("per_page", 50, MAX_PER_PAGE)
    )
    return ok(**page.to_dict())


@api_bp.post("/api/schedules")
@require_write
def create_schedule() -> Response:
    schedule = current_stask().schedules.create(json_body(allowed=FIELDS), created_by=CREATED_BY)
    return ok(201, id=schedule.id, schedule=schedule.to_dict())


@api_bp.get("/api/schedules/<int:schedule_id>")
def get_schedule(schedule_id: int) -> Response:
    return ok(schedule=current_stask().schedules.get(schedule_id).to_dict())


@api_bp.put("/api/schedules/<int:schedule_id>")
@require_write
def update_schedule(schedule_id: int) -> Response:
    """Change the fields given (the others are kept); a schedule from code takes only ``enabled``."""
    schedule = current_stask().schedules.update(schedule_id, json_body(allowed=FIELDS))
    return ok(schedule=schedule.to_dict())


@api_bp.delete("/api/schedules/<int:schedule_id>")
@require_write
def delete_schedule(schedule_id: int) -> Response:
    current_stask().schedules.delete(schedule_id)
    return ok(id=schedule_id)


@api_bp.post("/api/schedules/<int:schedule_id>/pause")
@require_write
def pause_schedule(schedule_id: int) -> Response:
    return ok(schedule=current_stask().schedules.set_enabled(schedule_id, False).to_dict())


@api_bp.post("/api/schedules/<int:schedule_id>/resume")
@require_write
def resume_schedule(schedule_id: int) -> Response:
    return ok(schedule=current_stask().schedules.set_enabled(schedule_id, True).to_dict())


@api_bp.post("/api/schedules/<int:schedule_id>/run")
@require_write
def run_schedule(schedule_id: int) -> Response:
    """One task now, with the schedule's worker, action and data (no slot is consumed)."""
    task = current_stask().schedules.run_now(schedule_id)
    return ok(201, id=task.id, task=task.to_dict())
