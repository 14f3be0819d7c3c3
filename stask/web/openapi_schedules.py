"""The schedules' part of the OpenAPI document: paths, schemas, and the task fields they add.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas, before the prefix is applied.
"""

from __future__ import annotations

from typing import Any

from ..enums import Priority
from ..scheduling.slots import MAX_CRON_LENGTH, MAX_INTERVAL, MAX_JITTER, MISFIRE_POLICIES, OVERLAP_POLICIES
from ..service.schedules import MAX_NAME, MAX_PER_PAGE, SOURCES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


SUCCESS = {"type": "boolean", "enum": [True]}
DATE = {"type": "string", "format": "date-time"}
#: The writable fields, with every constraint the service checks that a schema can say.
WRITABLE: dict[str, Any] = {
    "name": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_NAME,
        "description": "Default: '<identifier> <action>'",
    },
    "identifier": {"type": "string", "description": "A registered worker", "example": "echo"},
    "action": {"type": "string", "description": "One of the worker's actions", "example": "say"},
    "data": _nullable({"type": "object", "description": "Options of each task; checked against the action's fields"}),
    "priority": {"type": "string", "enum": [p.value for p in Priority], "default": "normal"},
    "cron": _nullable(
        {
            "type": "string",
            "maxLength": MAX_CRON_LENGTH,
            "description": "5 fields (minute hour day month weekday) or @hourly, @daily, @weekly, @monthly, "
            "@yearly; give cron or interval, not both",
            "example": "*/5 * * * *",
        }
    ),
    "interval": _nullable(
        {"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL, "description": "Seconds between slots"}
    ),
    "timezone": {"type": "string", "maxLength": 64, "default": "UTC", "description": "IANA zone of cron's wall clock"},
    "enabled": {"type": "boolean", "default": True},
    "misfire": {
        "type": "string",
        "enum": list(MISFIRE_POLICIES),
        "default": "run_once",
        "description": "Slots missed by more than 60 s: skip them, run once for all, or catch up each (last 100)",
    },
    "overlap": {
        "type": "string",
        "enum": list(OVERLAP_POLICIES),
        "default": "skip",
        "description": "skip: no new task while the last one is queued or running",
    },
    "jitter": {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_JITTER,
        "default": 0,
        "description": "Delay each task by up to this many seconds (the same for a given slot); shorter than interval",
    },
    "start_date": _nullable({**DATE, "description": "No slot before (UTC if no offset)"}),
    "end_date": _nullable({**DATE, "description": "No slot after (UTC if no offset)"}),
}
SCHEMAS: dict[str, Any] = {
    "Schedule": {
        "type": "object",
        "required": [*WRITABLE, "id", "next_run_at", "last_run_at", "last_task_id", "source"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            **{
                name: {k: v for k, v in schema.items() if k not in ("default", "example", "minLength")}
                for name, schema in WRITABLE.items()
            },
            "data": {"type": "object"},
            "next_run_at": _nullable(
                {**DATE, "description": "The next slot (UTC, before jitter); null: paused or ended"}
            ),
            "last_run_at": _nullable(DATE),
            "last_task_id": _nullable({"type": "integer", "format": "int64"}),
            "last_skipped_at": _nullable(DATE),
            "last_skip_reason": _nullable({"type": "string"}),
            "source": {"type": "string", "enum": list(SOURCES), "description": "code: declared on a worker class"},
            "created_by": _nullable({"type": "string"}),
            "created_at": DATE,
            "updated_at": DATE,
        },
    },
    "ScheduleCreateRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["identifier", "action"],
        "properties": WRITABLE,
        "example": {"identifier": "echo", "action": "say", "cron": "*/5 * * * *", "timezone": "Europe/Kyiv"},
    },
    "ScheduleUpdateRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": WRITABLE,
        "description": "The fields to change; the others are kept. A schedule from code takes only enabled.",
        "example": {"enabled": False},
    },
    "ScheduleCreated": {
        "type": "object",
        "required": ["success", "id", "schedule"],
        "properties": {"success": SUCCESS, "id": {"type": "integer", "format": "int64"}, "schedule": _ref("Schedule")},
    },
    "ScheduleResponse": {
        "type": "object",
        "required": ["success", "schedule"],
        "properties": {"success": SUCCESS, "schedule": _ref("Schedule")},
    },
    "ScheduleDeleted": {
        "type": "object",
        "required": ["success", "id"],
        "properties": {"success": SUCCESS, "id": {"type": "integer", "format": "int64"}},
    },
    "ScheduleList": {
        "type": "object",
        "required": ["success", "items", "total", "page", "per_page", "pages"],
        "properties": {
            "success": SUCCESS,
            "items": {"type": "array", "items": _ref("Schedule")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
}
SCHEDULE_ID = {
    "name": "schedule_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "format": "int64", "minimum": 1},
    "example": 1,
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _action(summary: str, response: str, *codes: str, status: str = "200") -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["schedules"],
        "parameters": [SCHEDULE_ID],
        "responses": {status: _json(_ref(response), "Success"), **_errors(*codes)},
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


PATHS: dict[str, Any] = {
    "/api/schedules": {
        "get": {
            "summary": "List schedules",
            "tags": ["schedules"],
            "parameters": [
                _query("identifier", {"type": "string"}, "Only this worker's schedules"),
                _query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "Page number"),
                _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "Rows per page"),
            ],
            "responses": {"200": _json(_ref("ScheduleList"), "Success"), **_errors("400", "401")},
        },
        "post": {
            "summary": "Create a schedule",
            "tags": ["schedules"],
            "requestBody": _body("ScheduleCreateRequest"),
            "responses": {
                "201": _json(_ref("ScheduleCreated"), "The schedule is stored"),
                **_errors("400", "401", "403", "413", "415"),
            },
        },
    },
    "/api/schedules/{schedule_id}": {
        "get": _action("One schedule", "ScheduleResponse", "401", "404"),
        "put": {
            **_action("Change a schedule", "ScheduleResponse", "400", "401", "403", "404", "409", "413", "415"),
            "requestBody": _body("ScheduleUpdateRequest"),
        },
        "delete": _action("Delete a schedule (not one from code)", "ScheduleDeleted", "401", "403", "404", "409"),
    },
    "/api/schedules/{schedule_id}/pause": {
        "post": _action("Pause a schedule (no next run)", "ScheduleResponse", "401", "403", "404")
    },
    "/api/schedules/{schedule_id}/resume": {
        "post": _action("Resume a schedule from its next slot after now", "ScheduleResponse", "401", "403", "404")
    },
    "/api/schedules/{schedule_id}/run": {
        "post": _action(
            "Run a schedule's task now (no slot is consumed)",
            "TaskCreated",
            "400",
            "401",
            "403",
            "404",
            "409",
            status="201",
        )
    },
}
#: What schedules add to the task object and to the task list's filters.
TASK_PROPERTIES = {
    "schedule_id": _nullable({"type": "integer", "format": "int64", "description": "The schedule that created it"}),
    "scheduled_for": _nullable({**DATE, "description": "The schedule's slot it was created for"}),
}
TASK_FILTER = _query("schedule_id", {"type": "integer", "format": "int64", "minimum": 1}, "Tasks of this schedule")


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the schedules' schemas and paths, and their fields on tasks, to a document being built."""
    schemas.update(SCHEMAS)
    schemas["Task"]["properties"].update(TASK_PROPERTIES)
    paths.update(PATHS)
    listing = paths["/api/tasks"]["get"]
    listing["parameters"] = [*listing["parameters"], TASK_FILTER]
