"""The schedules' part of the OpenAPI document: paths, schemas, and the task fields they add.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas, before the prefix is applied.
"""

from __future__ import annotations

from typing import Any

from ..scheduling.slots import (
    MAX_CRON_LENGTH,
    MAX_INTERVAL,
    MAX_JITTER,
    MAX_ZONE_LENGTH,
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    ZONE_PATTERN,
)
from ..service.schedules import MAX_NAME, SOURCES
from ..validation import MAX_ID
from .openapi_parts import (
    ACTION_SCHEMA,
    DATE,
    DATE_TIME_SCHEMA,
    ID_SCHEMA,
    IDENTIFIER_SCHEMA,
    PAGE_PARAMETERS,
    PRIORITY_SCHEMA,
    SUCCESS,
    char_class,
    errors,
    id_parameter,
    json_body,
    json_response,
    list_filter,
    nullable,
    ok,
    ref,
    row_answers,
)

#: What a name may not contain (``str.isprintable``), in the Basic Multilingual Plane: a JSON
#: Schema pattern (ECMA-262 without the ``u`` flag) cannot name characters beyond it.
_NOT_PRINTABLE = char_class([chr(c) for c in range(0x10000) if not chr(c).isprintable() and not 0xD800 <= c <= 0xDFFF])
#: The writable fields, with every constraint the service checks that a schema can say.
WRITABLE: dict[str, Any] = {
    "name": {
        "type": "string",
        "maxLength": MAX_NAME,
        "allOf": [{"pattern": "[^ ]"}, {"not": {"pattern": _NOT_PRINTABLE}}],
        "description": "Printable characters (no control, format, private-use or unassigned characters, "
        "no separator but the space), not only spaces; surrounding spaces are removed. "
        "Default: '<identifier> <action>'",
    },
    "identifier": {**IDENTIFIER_SCHEMA, "description": "A registered worker", "example": "echo"},
    "action": {**ACTION_SCHEMA, "description": "One of the worker's actions", "example": "say"},
    "data": nullable({"type": "object", "description": "Options of each task; checked against the action's fields"}),
    "priority": {**PRIORITY_SCHEMA, "default": "normal"},
    "cron": nullable(
        {
            "type": "string",
            "maxLength": MAX_CRON_LENGTH,
            "pattern": "\\S",
            "description": "5 fields (minute hour day month weekday) or @hourly, @daily, @weekly, @monthly, "
            "@yearly; give cron or interval, not both",
            "example": "*/5 * * * *",
        }
    ),
    "interval": nullable(
        {"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL, "description": "Seconds between slots"}
    ),
    "timezone": {
        "type": "string",
        "pattern": ZONE_PATTERN,
        "maxLength": MAX_ZONE_LENGTH,
        "default": "UTC",
        "description": "IANA zone of cron's wall clock (one the server's tz database knows)",
    },
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
    "start_date": nullable({**DATE_TIME_SCHEMA, "description": "No slot before (UTC if no offset)"}),
    "end_date": nullable({**DATE_TIME_SCHEMA, "description": "No slot after (UTC if no offset); after now"}),
    "preset_id": nullable(
        {
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "maximum": MAX_ID,
            "description": "A preset to run (an existing one): each slot takes its worker, action, data and "
            "priority as they are then, this schedule's data merged over the preset's (one level deep). "
            "identifier, action and priority may be left out (the preset's); given, they must equal the preset's",
        }
    ),
}
#: What the read schema keeps of the writable fields' (the rules are for requests).
_READ_KEYS = ("type", "format", "enum", "minimum", "maximum", "nullable", "description")
SCHEMAS: dict[str, Any] = {
    "Schedule": {
        "type": "object",
        "required": [*WRITABLE, "id", "next_run_at", "last_run_at", "last_task_id", "source"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            **{name: {k: v for k, v in schema.items() if k in _READ_KEYS} for name, schema in WRITABLE.items()},
            "start_date": nullable({**DATE, "description": "No slot before"}),
            "end_date": nullable({**DATE, "description": "No slot after"}),
            "data": {"type": "object"},
            "next_run_at": nullable(
                {**DATE, "description": "The next slot (UTC, before jitter); null: paused or ended"}
            ),
            "last_run_at": nullable(DATE),
            "last_task_id": nullable({"type": "integer", "format": "int64"}),
            "last_skipped_at": nullable(DATE),
            "last_skip_reason": nullable({"type": "string"}),
            "source": {"type": "string", "enum": list(SOURCES), "description": "code: declared on a worker class"},
            "created_by": nullable({"type": "string"}),
            "created_at": DATE,
            "updated_at": DATE,
        },
    },
    "ScheduleCreateRequest": {
        "type": "object",
        "additionalProperties": False,
        "anyOf": [{"required": ["identifier", "action"]}, {"required": ["preset_id"]}],
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
    **row_answers("Schedule"),
    "ScheduleList": {
        "type": "object",
        "required": ["success", "items", "total", "page", "per_page", "pages"],
        "properties": {
            "success": SUCCESS,
            "items": {"type": "array", "items": ref("Schedule")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
}
SCHEDULE_ID = id_parameter("schedule_id")


def _action(summary: str, response: str, *codes: str, status: str = "200") -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["schedules"],
        "parameters": [SCHEDULE_ID],
        "responses": {**ok(response, status=status), **errors(*codes)},
    }


PATHS: dict[str, Any] = {
    "/api/schedules": {
        "get": {
            "summary": "List schedules",
            "tags": ["schedules"],
            "parameters": [
                list_filter("identifier", IDENTIFIER_SCHEMA, "Only this worker's schedules"),
                *PAGE_PARAMETERS,
            ],
            "responses": {**ok("ScheduleList"), **errors("400", "401")},
        },
        "post": {
            "summary": "Create a schedule",
            "tags": ["schedules"],
            "requestBody": json_body(ref("ScheduleCreateRequest")),
            "responses": {
                "201": json_response(ref("ScheduleCreated"), "The schedule is stored"),
                **errors("400", "401", "403", "413", "415"),
            },
        },
    },
    "/api/schedules/{schedule_id}": {
        "get": _action("One schedule", "ScheduleResponse", "401", "404"),
        "put": {
            **_action("Change a schedule", "ScheduleResponse", "400", "401", "403", "404", "409", "413", "415"),
            "requestBody": json_body(ref("ScheduleUpdateRequest")),
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
    "schedule_id": nullable({"type": "integer", "format": "int64", "description": "The schedule that created it"}),
    "scheduled_for": nullable({**DATE, "description": "The schedule's slot it was created for"}),
}
TASK_FILTER = list_filter("schedule_id", ID_SCHEMA, "Tasks of this schedule")


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the schedules' schemas and paths, and their fields on tasks, to a document being built."""
    schemas.update(SCHEMAS)
    schemas["Task"]["properties"].update(TASK_PROPERTIES)
    paths.update(PATHS)
    listing = paths["/api/tasks"]["get"]
    listing["parameters"] = [*listing["parameters"], TASK_FILTER]
