"""The presets' JSON API: list, create, read, change, delete, and run.

Routes live on the API blueprint (``/stask/api/presets...``); reading needs any role,
writing (running included) the admin role. Every change leaves an audit row. The OpenAPI
description is :mod:`stask.web.openapi_presets`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..exceptions import InvalidField
from ..service import current_stask
from ..service.listing import parse_worker_page_query
from ..service.presets import FIELDS, RUN_FIELDS
from .api import api_bp, json_body, ok
from .audit_trail import created_details, record
from .auth import require_write

#: Who created a preset through the API (``created_by``).
CREATED_BY = "api"


def _details(preset: Any) -> dict[str, Any]:
    """An audit row's details: names, never the data (it may be private)."""
    return {"name": preset.name, "identifier": preset.identifier, "action": preset.action}


@api_bp.get("/api/presets")
def list_presets() -> Response:
    """Presets by worker and name, a page at a time; ``identifier`` keeps one worker's."""
    query = parse_worker_page_query(request.args)
    page = current_stask().presets.page(query.identifier, query.page, query.per_page)
    return ok(**page.to_dict())


@api_bp.post("/api/presets")
@require_write
def create_preset() -> Response:
    preset = current_stask().presets.create(json_body(allowed=FIELDS, required=True), created_by=CREATED_BY)
    record("preset.create", f"preset:{preset.id}", _details(preset))
    return ok(201, id=preset.id, preset=preset.to_dict())


@api_bp.get("/api/presets/<id:preset_id>")
def get_preset(preset_id: int) -> Response:
    return ok(preset=current_stask().presets.get(preset_id).to_dict())


@api_bp.put("/api/presets/<id:preset_id>")
@require_write
def update_preset(preset_id: int) -> Response:
    """Change the fields given (the others are kept)."""
    body = json_body(allowed=FIELDS, required=True)
    preset = current_stask().presets.update(preset_id, body)
    record("preset.update", f"preset:{preset_id}", {**_details(preset), "fields": sorted(body)})
    return ok(preset=preset.to_dict())


@api_bp.delete("/api/presets/<id:preset_id>")
@require_write
def delete_preset(preset_id: int) -> Response:
    current_stask().presets.delete(preset_id)
    record("preset.delete", f"preset:{preset_id}")
    return ok(id=preset_id)


@api_bp.post("/api/presets/<id:preset_id>/run")
@require_write
def run_preset(preset_id: int) -> Response:
    """One task now; ``{"data": {...}}`` is merged over the preset's data (one level deep)."""
    body = json_body(allowed=RUN_FIELDS)
    if "data" in body and not isinstance(body["data"], dict):
        raise InvalidField("data", "data must be a JSON object")
    task = current_stask().presets.run(preset_id, body.get("data"))
    record("preset.run", f"preset:{preset_id}", {"task": task.id, "overrides": sorted(body.get("data") or {})})
    record("task.create", f"task:{task.id}", created_details(task))
    return ok(201, id=task.id, task=task.to_dict())
