"""The workflows' JSON API: groups (create, list, read, cancel, retry failed) and chains.

Routes live on the API blueprint (``/stask/api/groups...``, ``/stask/api/chains``); reading
needs any role, writing the admin role. The OpenAPI description is
:mod:`stask.web.openapi_workflows`. ``depends_on`` on task creation is in :mod:`stask.web.api`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..exceptions import InvalidInput
from ..service import current_stask
from ..service.listing import page_args
from ..service.workflows import MAX_MEMBERS, MAX_NAME
from .api import RUN_FIELDS, _run_fields, api_bp, json_body, ok
from .audit_trail import record
from .auth import require_write

#: Who created a group through the API (``created_by``).
CREATED_BY = "api"
#: What one task spec of a group or a chain may say.
SPEC_FIELDS = RUN_FIELDS | {"identifier", "action"}
GROUP_FIELDS = frozenset({"name", "tasks", "on_complete", "on_failure"})


def _spec(value: Any, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{label} must be an object with identifier and action")
    unknown = set(value) - SPEC_FIELDS
    if unknown:
        raise InvalidInput(f"{label} has unknown fields: {', '.join(sorted(str(k)[:40] for k in unknown))}")
    if not isinstance(value.get("identifier"), str) or not isinstance(value.get("action"), str):
        raise InvalidInput(f"{label} needs identifier and action (strings)")
    return _run_fields(value)


def _specs(body: dict[str, Any]) -> list[dict[str, Any]]:
    tasks = body.get("tasks")
    if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_MEMBERS:
        raise InvalidInput(f"tasks must be a list of 1 to {MAX_MEMBERS} task specs")
    return [_spec(spec, f"task #{index}") for index, spec in enumerate(tasks)]


@api_bp.get("/api/groups")
def list_groups() -> Response:
    """Groups newest first, a page at a time, each with its counts and progress."""
    page, per_page = page_args(request.args)
    views, total = current_stask().workflows.page(page, per_page)
    return ok(
        items=[view.to_dict() for view in views],
        total=total,
        page=page,
        per_page=per_page,
        pages=max(1, -(-total // per_page)),
    )


@api_bp.post("/api/groups")
@require_write
def create_group() -> Response:
    body = json_body(allowed=GROUP_FIELDS, required=True)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.strip()):
        raise InvalidInput(f"name must be a string of 1 to {MAX_NAME} characters, not only spaces")
    specs = _specs(body)
    callbacks = {key: None if body.get(key) is None else _spec(body[key], key) for key in ("on_complete", "on_failure")}
    group = current_stask().workflows.group(specs, name=name, created_by=CREATED_BY, **callbacks)
    record("group.create", f"group:{group.id}", {"name": group.name, "tasks": group.total})
    return ok(201, id=group.id, group=current_stask().workflows.view(group.id).to_dict())


@api_bp.get("/api/groups/<id:group_id>")
def get_group(group_id: int) -> Response:
    return ok(group=current_stask().workflows.view(group_id).to_dict())


@api_bp.post("/api/groups/<id:group_id>/cancel")
@require_write
def cancel_group(group_id: int) -> Response:
    """Cancel the members that have not ended; running ones are asked to stop."""
    workflows = current_stask().workflows
    cancelled, stopping = workflows.cancel_group(group_id)
    record("group.cancel", f"group:{group_id}", {"cancelled": len(cancelled), "stopping": len(stopping)})
    return ok(group=workflows.view(group_id).to_dict(), cancelled=cancelled, stopping=stopping)


@api_bp.post("/api/groups/<id:group_id>/retry-failed")
@require_write
def retry_failed_in_group(group_id: int) -> Response:
    """Queue the failed and cancelled members again; the group runs again."""
    workflows = current_stask().workflows
    retried = workflows.retry_failed(group_id)
    record("group.retry_failed", f"group:{group_id}", {"retried": len(retried)})
    return ok(group=workflows.view(group_id).to_dict(), retried=retried)


@api_bp.post("/api/chains")
@require_write
def create_chain() -> Response:
    """Tasks that run one after the other; each sees its parent's result (``task.parents``)."""
    body = json_body(allowed=frozenset({"tasks"}), required=True)
    ids = current_stask().workflows.chain(_specs(body))
    record("task.create", "tasks", {"chain": len(ids)})
    return ok(201, ids=ids)
