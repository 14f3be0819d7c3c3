"""The workflows' part of the OpenAPI document: groups, chains, and what dependencies add to tasks.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas, before the prefix is applied. Task specs reuse the
document's own ``CreateRequest`` (so a rule stated there holds here too).
"""

from __future__ import annotations

import copy
from typing import Any

from ..service.dependencies import MAX_PARENTS, ON_PARENT_FAILURE
from ..service.workflows import GROUP_STATUSES, MAX_MEMBERS, MAX_NAME
from .openapi_parts import DATE, ID_SCHEMA, PAGE_PARAMETERS, SUCCESS, json_body, list_filter, row_answers
from .openapi_parts import errors as _errors
from .openapi_parts import json_response as _json
from .openapi_parts import nullable as _nullable
from .openapi_parts import ref as _ref

ID = ID_SCHEMA
#: Waiting reasons, in the order they are looked for.
REASON_CODES = ("parents", "scheduled", "retry", "worker_inactive", "no_worker", "queue")


DEPENDENCY_PROPERTIES: dict[str, Any] = {
    "depends_on": _nullable(
        {
            "type": "array",
            "maxItems": MAX_PARENTS,
            "items": ID,
            "description": "Ids of existing tasks this one waits for (a missing id: 404 naming it); "
            "repeated ids count once",
        }
    ),
    "on_parent_failure": _nullable(
        {
            "type": "string",
            "enum": [*ON_PARENT_FAILURE, None],  # OpenAPI 3.0: a nullable enum lists null
            "default": "cancel",
            "description": "A parent failed or was cancelled: cancel this task (with the reason), or run it anyway",
        }
    ),
}
WAITING_REASON = _nullable(
    {
        "type": "object",
        "required": ["code", "message"],
        "description": "Why a queued task is not running: the first reason that holds (null when not queued); "
        "computed when one task is read, absent from lists",
        "properties": {
            "code": {"type": "string", "enum": list(REASON_CODES)},
            "message": {"type": "string"},
            "parents": {"type": "array", "items": {"type": "integer"}, "description": "parents: not ended yet"},
            "until": {**DATE, "description": "scheduled, retry: the moment it becomes due"},
            "attempt": {"type": "integer", "description": "retry: the attempt that waits"},
            "identifier": {"type": "string", "description": "worker_inactive: the worker"},
            "queue": {"type": "string", "description": "no_worker: the queue nobody serves"},
            "ahead": {"type": "integer", "minimum": 0, "description": "queue: due tasks a worker takes first"},
        },
    }
)
TASK_PROPERTIES: dict[str, Any] = {
    "group_id": _nullable({"type": "integer", "format": "int64", "description": "The group it belongs to"}),
    "on_parent_failure": _nullable({"type": "string", "enum": [*ON_PARENT_FAILURE, None]}),
    "waiting_parents": {"type": "integer", "minimum": 0, "description": "Parents that have not ended yet"},
    "waiting_reason": WAITING_REASON,
}


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    group_properties = {
        "id": {"type": "integer", "format": "int64"},
        "name": {"type": "string"},
        "status": {
            "type": "string",
            "enum": list(GROUP_STATUSES),
            "description": "running until every member ended; then failed if one failed, else cancelled if one "
            "was cancelled, else finished",
        },
        "total": {"type": "integer"},
        "counts": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "Members by status name (queued, preparing, running, finished, cancelled, failed)",
        },
        "progress": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "Ended members count 100, running ones their live progress, queued ones 0",
        },
        "on_complete": _nullable({"type": "object"}),
        "on_failure": _nullable({"type": "object"}),
        "on_complete_task_id": _nullable({"type": "integer", "format": "int64"}),
        "on_failure_task_id": _nullable({"type": "integer", "format": "int64"}),
        "created_by": _nullable({"type": "string"}),
        "created_at": DATE,
        "started_at": _nullable({**DATE, "description": "When its first member started"}),
        "ended_at": _nullable(DATE),
    }
    tasks = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_MEMBERS,
        "items": _ref("TaskSpec"),
    }
    return {
        "TaskSpec": spec,
        "Group": {"type": "object", "required": list(group_properties), "properties": group_properties},
        "GroupCreateRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tasks"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_NAME,
                    "pattern": r"\S",
                    "description": "Default: '<first identifier> x<count>'",
                },
                "tasks": tasks,
                "on_complete": _nullable({**spec, "description": "Created once when every member finished"}),
                "on_failure": _nullable(
                    {**spec, "description": "Created once when every member ended and one failed or was cancelled"}
                ),
            },
            "example": {
                "name": "nightly",
                "tasks": [{"identifier": "echo", "action": "say"}],
                "on_complete": {"identifier": "echo", "action": "say"},
            },
        },
        **row_answers("Group", deleted=False),
        "GroupCancelled": {
            "type": "object",
            "required": ["success", "group", "cancelled", "stopping"],
            "properties": {
                "success": SUCCESS,
                "group": _ref("Group"),
                "cancelled": {"type": "array", "items": {"type": "integer"}},
                "stopping": {"type": "array", "items": {"type": "integer"}, "description": "Running: asked to stop"},
            },
        },
        "GroupRetried": {
            "type": "object",
            "required": ["success", "group", "retried"],
            "properties": {
                "success": SUCCESS,
                "group": _ref("Group"),
                "retried": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "GroupList": {
            "type": "object",
            "required": ["success", "items", "total", "page", "per_page", "pages"],
            "properties": {
                "success": SUCCESS,
                "items": {"type": "array", "items": _ref("Group")},
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "pages": {"type": "integer"},
            },
        },
        "ChainRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tasks"],
            "properties": {"tasks": tasks},
            "example": {"tasks": [{"identifier": "echo", "action": "say"}, {"identifier": "echo", "action": "say"}]},
        },
        "ChainCreated": {
            "type": "object",
            "required": ["success", "ids"],
            "properties": {
                "success": SUCCESS,
                "ids": {"type": "array", "items": {"type": "integer"}, "description": "The steps, in order"},
            },
        },
    }


GROUP_ID = {"name": "group_id", "in": "path", "required": True, "schema": ID, "example": 1}


def _group_action(summary: str, response: str, *codes: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["groups"],
        "parameters": [GROUP_ID],
        "responses": {"200": _json(_ref(response), "Success"), **_errors(*codes)},
    }


PATHS: dict[str, Any] = {
    "/api/groups": {
        "get": {
            "summary": "List groups, newest first, with their counts and progress",
            "tags": ["groups"],
            "parameters": [
                *PAGE_PARAMETERS,
            ],
            "responses": {"200": _json(_ref("GroupList"), "Success"), **_errors("400")},
        },
        "post": {
            "summary": "Create a group and its tasks (one transaction)",
            "tags": ["groups"],
            "requestBody": json_body(_ref("GroupCreateRequest")),
            "responses": {
                "201": _json(_ref("GroupCreated"), "The group and its tasks are stored and queued"),
                **_errors("400", "404", "409", "415"),
            },
        },
    },
    "/api/groups/{group_id}": {"get": _group_action("One group: status, counts, progress", "GroupResponse", "404")},
    "/api/groups/{group_id}/cancel": {
        "post": _group_action(
            "Cancel the members that have not ended (running ones are asked to stop)", "GroupCancelled", "404"
        )
    },
    "/api/groups/{group_id}/retry-failed": {
        "post": _group_action("Queue the failed and cancelled members again (409: none)", "GroupRetried", "404", "409")
    },
    "/api/chains": {
        "post": {
            "summary": "Create tasks that run one after the other (each sees its parent's result)",
            "tags": ["groups"],
            "requestBody": json_body(_ref("ChainRequest")),
            "responses": {
                "201": _json(_ref("ChainCreated"), "The steps are stored; the first is queued"),
                **_errors("400", "404", "409", "415"),
            },
        }
    },
}


#: The task list's filter by group.
TASK_FILTER = list_filter("group_id", ID, "Tasks of this group")


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the workflows' schemas and paths, and their fields on tasks, to a document being built."""
    spec = copy.deepcopy(schemas["CreateRequest"])
    schemas.update(_schemas(spec))
    schemas["CreateRequest"]["properties"].update(DEPENDENCY_PROPERTIES)
    schemas["Task"]["properties"].update(TASK_PROPERTIES)
    paths.update(PATHS)
    listing = paths["/api/tasks"]["get"]
    listing["parameters"] = [*listing["parameters"], TASK_FILTER]
