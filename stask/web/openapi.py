"""The OpenAPI 3 document of every JSON endpoint, served at ``<prefix>/api/openapi.json``.

Paths are written relative to the stask prefix and prefixed when served, so a host that
mounts stask elsewhere gets a correct document. The monitoring blueprint contributes its
own path items through ``stask.web.monitoring.OPENAPI_PATHS`` (same convention; it may use
the shared components below, e.g. ``#/components/schemas/Error``).
"""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Response, jsonify

from .. import __name__ as _package
from ..enums import Priority, Status
from ..service import audit, current_stask
from ..service.listing import (
    COUNT_CAP,
    MAX_SEARCH,
    ORDERS,
    SEARCH_COUNT_CAP,
    SEARCH_PATTERN,
    SORTS,
    STATUS_LIST_PATTERN,
)
from .api import (
    MAX_BULK,
    MAX_LOG_LINES,
    RESERVED_IDENTIFIERS,
    RETRY_FAILED_LIMIT,
    SAFE_DOWNLOAD_TYPES,
    api_bp,
)
from .openapi_notifications import extend_document as add_notifications
from .openapi_parts import (
    ACTION_SCHEMA,
    DAY_SCHEMA,
    ERROR_TEXT,
    ID_SCHEMA,
    IDENTIFIER_SCHEMA,
    MAX_ATTEMPTS_SCHEMA,
    PAGE_PARAMETERS,
    PRIORITY_SCHEMA,
    START_AT_SCHEMA,
    SUCCESS,
    errors,
    id_parameter,
    json_response,
    list_filter,
    nullable,
    ok,
    ref,
)
from .openapi_presets import extend_document as add_presets
from .openapi_schedules import extend_document as add_schedules
from .openapi_settings import add_worker_settings
from .openapi_triggers import extend_document as add_triggers
from .openapi_workflows import extend_document as add_workflows

OPENAPI_VERSION = "3.0.3"


TASK_ID = id_parameter("task_id")
IDENTIFIER = {
    "name": "identifier",
    "in": "path",
    "required": True,
    "description": "Worker identifier",
    "schema": IDENTIFIER_SCHEMA,
    "example": "csv_export",
}
#: ``GET /api/workers/discover`` is no route: that identifier is the discovery operation's.
WORKER_TO_READ = {
    **IDENTIFIER,
    "schema": {**IDENTIFIER_SCHEMA, "not": {"enum": list(RESERVED_IDENTIFIERS)}},
    "description": "Worker identifier (not " + ", ".join(RESERVED_IDENTIFIERS) + ")",
}
ACTION = {"name": "action", "in": "path", "required": True, "schema": ACTION_SCHEMA, "example": "export"}

#: What ``stask.storage.resolve_inside`` refuses before looking (400 ``unsafe_path``): an absolute
#: path, a NUL, a "." or ".." segment (which would leave the folder or name the folder itself).
RESULT_FILE_PATTERN = r"^(?!/)(?![\s\S]*(?:^|/)\.\.?(?:/|$))[^\u0000]+$"
UPLOAD_ID_SCHEMA = {"type": "string", "pattern": "^[0-9a-f]{32}$"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "Task": {
        "type": "object",
        "required": [
            "id",
            "identifier",
            "action",
            "status",
            "status_text",
            "scheduled",
            "priority",
            "progress",
            "attempts",
            "max_attempts",
            "created_at",
        ],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "identifier": {"type": "string"},
            "action": {"type": "string"},
            "status": {
                "type": "integer",
                "enum": [int(s) for s in Status],
                "description": "10 queued, 30 preparing, 50 running, 80 finished, 90 cancelled, 100 failed",
            },
            "status_text": {"type": "string", "enum": [s.text for s in Status]},
            "scheduled": {
                "type": "boolean",
                "description": "queued (10) and due later than a second from now (start_at, or its retry's); "
                "the panel shows it as scheduled",
            },
            "priority": {"type": "string", "enum": [p.value for p in Priority]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "message": nullable({"type": "string"}),
            "result": nullable({"type": "string", "description": "Result file, relative to the task's folder"}),
            "error": nullable({"type": "string"}),
            "data": nullable({"type": "object"}),
            "meta": nullable({"type": "object"}),
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "user_id": nullable({"type": "integer"}),
            "started_by": nullable({"type": "string"}),
            "created_at": {"type": "string", "format": "date-time"},
            "start_at": nullable({"type": "string", "format": "date-time"}),
            "started_at": nullable({"type": "string", "format": "date-time"}),
            "finished_at": nullable({"type": "string", "format": "date-time"}),
            "wait_ms": nullable({"type": "integer"}),
            "run_ms": nullable({"type": "integer"}),
            "peak_memory_kb": nullable({"type": "integer"}),
        },
    },
    "RunRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "data": nullable({"type": "object", "description": "Options for the action (JSON object, < 1 MB)"}),
            "priority": {**PRIORITY_SCHEMA, "default": "normal"},
            "start_at": nullable(START_AT_SCHEMA),
            "max_attempts": nullable(MAX_ATTEMPTS_SCHEMA),
        },
    },
    "CreateRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["identifier", "action"],
        "properties": {
            "identifier": {**IDENTIFIER_SCHEMA, "example": "csv_export"},
            "action": {**ACTION_SCHEMA, "example": "export"},
            "data": nullable({"type": "object", "description": "Options for the action (JSON object, < 1 MB)"}),
            "priority": {**PRIORITY_SCHEMA, "default": "normal"},
            "start_at": nullable(START_AT_SCHEMA),
            "max_attempts": nullable(MAX_ATTEMPTS_SCHEMA),
        },
    },
    "TaskCreated": {
        "type": "object",
        "required": ["success", "id", "task"],
        "properties": {"success": SUCCESS, "id": {"type": "integer"}, "task": ref("Task")},
    },
    "TaskResponse": {
        "type": "object",
        "required": ["success", "task"],
        "properties": {
            "success": SUCCESS,
            "task": ref("Task"),
            "stopping": {"type": "boolean", "description": "cancel: a running task was asked to stop"},
        },
    },
    "TaskDeleted": {
        "type": "object",
        "required": ["success", "id"],
        "properties": {"success": SUCCESS, "id": {"type": "integer"}},
    },
    "TaskList": {
        "type": "object",
        "required": ["success", "items", "total", "total_capped", "page", "per_page", "pages"],
        "properties": {
            "success": SUCCESS,
            "items": {"type": "array", "items": ref("Task")},
            "total": {"type": "integer", "description": f"Matching tasks, counted up to {COUNT_CAP}"},
            "total_capped": {"type": "boolean", "description": f"More than {COUNT_CAP} tasks match"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
    "Progress": {
        "type": "object",
        "required": [
            "success",
            "id",
            "status",
            "status_text",
            "progress",
            "processed",
            "total",
            "eta",
            "message",
            "log_lines",
        ],
        "properties": {
            "success": SUCCESS,
            "id": {"type": "integer"},
            "status": {"type": "integer", "enum": [int(s) for s in Status]},
            "status_text": {"type": "string", "enum": [s.text for s in Status]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "processed": nullable({"type": "integer"}),
            "total": nullable({"type": "integer"}),
            "eta": nullable({"type": "number", "description": "Seconds left at the rate so far"}),
            "message": nullable({"type": "string"}),
            "stop_requested": {"type": "boolean"},
            "log_lines": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Stats": {
        "type": "object",
        "required": [
            "success",
            "pending",
            "preparing",
            "running",
            "finished",
            "cancelled",
            "failed",
            "total",
            "workers",
            "active_workers",
            "queues",
        ],
        "properties": {
            "success": SUCCESS,
            **{
                name: {"type": "integer"}
                for name in (
                    "pending",
                    "preparing",
                    "running",
                    "finished",
                    "cancelled",
                    "failed",
                    "total",
                    "workers",
                    "active_workers",
                )
            },
            "queues": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Jobs waiting in each RQ queue (high, normal, low)",
            },
        },
    },
    "BulkRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["action", "ids"],
        "properties": {
            "action": {"type": "string", "enum": ["retry", "cancel", "delete"]},
            "ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BULK,
                "items": ID_SCHEMA,
            },
        },
    },
    "BulkResult": {
        "type": "object",
        "required": ["success", "action", "done", "failed"],
        "properties": {
            "success": SUCCESS,
            "action": {"type": "string"},
            "done": {"type": "array", "items": {"type": "integer"}},
            "failed": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "error"],
                    "properties": {
                        "id": {"type": "integer"},
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
    "RetryFailedRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": RETRY_FAILED_LIMIT}},
    },
    "RetryFailedResult": {
        "type": "object",
        "required": ["success", "retried", "skipped", "remaining"],
        "properties": {
            "success": SUCCESS,
            "retried": {"type": "array", "items": {"type": "integer"}},
            "skipped": {"type": "array", "items": {"type": "integer"}},
            "remaining": {"type": "boolean", "description": "More failed tasks wait: call again"},
        },
    },
    "Worker": {
        "type": "object",
        "required": ["identifier", "class_path", "active", "settings", "available", "actions"],
        "properties": {
            "identifier": {"type": "string"},
            "class_path": {"type": "string"},
            "scope": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "icon": {"type": "string"},
            "active": {"type": "boolean"},
            "position": {"type": "integer"},
            "settings": {"type": "object", "description": "Settings stored for this worker"},
            "available": {"type": "boolean", "description": "Its class can be imported here"},
            "load_error": nullable({"type": "string"}),
            "actions": {"type": "array", "items": {"type": "string"}},
            "action_fields": {"type": "object"},
            "accepts_upload": {"type": "boolean"},
            "default_settings": {"type": "object"},
        },
    },
    "WorkerList": {
        "type": "object",
        "required": ["success", "workers"],
        "properties": {
            "success": SUCCESS,
            "workers": {"type": "array", "items": ref("Worker")},
        },
    },
    "WorkerResponse": {
        "type": "object",
        "required": ["success", "worker"],
        "properties": {"success": SUCCESS, "worker": ref("Worker")},
    },
    "WorkerDetail": {
        "type": "object",
        "required": ["success", "worker", "tasks"],
        "properties": {
            "success": SUCCESS,
            "worker": ref("Worker"),
            "tasks": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "This worker's tasks by status, and total",
            },
        },
    },
    "Settings": {
        "type": "object",
        "required": ["success", "identifier", "settings", "stored", "defaults"],
        "properties": {
            "success": SUCCESS,
            "identifier": {"type": "string"},
            "settings": {"type": "object", "description": "Effective: defaults overlaid with stored values"},
            "stored": {"type": "object"},
            "defaults": {"type": "object"},
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["success", "added", "updated", "missing", "invalid", "workers"],
        "properties": {
            "success": SUCCESS,
            "added": {"type": "array", "items": {"type": "string"}},
            "updated": {"type": "array", "items": {"type": "string"}},
            "missing": {"type": "array", "items": {"type": "string"}},
            "invalid": {
                "type": "array",
                "description": "Entry points or import paths that are not valid workers, with the reason",
                "items": {
                    "type": "object",
                    "required": ["source", "reason"],
                    "properties": {"source": {"type": "string"}, "reason": {"type": "string"}},
                },
            },
            "workers": {"type": "array", "items": {"type": "string"}},
        },
    },
    "UploadRequest": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "upload_id": {**UPLOAD_ID_SCHEMA, "description": "From the first chunk's answer (chunked uploads)"},
        },
    },
    "Upload": {
        "type": "object",
        "required": ["success", "complete", "upload_id"],
        "properties": {
            "success": SUCCESS,
            "complete": {"type": "boolean"},
            "upload_id": nullable({"type": "string"}),
            "received": {"type": "integer", "description": "Bytes stored so far (chunked, incomplete)"},
            "file": {
                "type": "object",
                "required": ["name", "size", "owner"],
                "properties": {
                    "name": {"type": "string", "description": "The stored (safe, unique) file name"},
                    "size": {"type": "integer"},
                    "owner": {"type": "string"},
                },
            },
        },
    },
}


def _list_parameters() -> list[dict[str, Any]]:
    """The task list's filters."""
    query, day = list_filter, DAY_SCHEMA
    return [
        query(
            "status",
            {"type": "string", "pattern": STATUS_LIST_PATTERN, "example": "failed,cancelled"},
            "Status names (pending is queued) or codes, comma-separated, lower case",
        ),
        query("identifier", IDENTIFIER_SCHEMA, "Worker identifier"),
        query("action", ACTION_SCHEMA, "Action name"),
        query("priority", PRIORITY_SCHEMA, "Priority"),
        query("created_from", day, "Created at or after: a date-time (UTC without offset) or a date"),
        query("created_to", day, "Created at or before (a bare date includes the whole day)"),
        query(
            "q",
            {"type": "string", "maxLength": MAX_SEARCH, "pattern": SEARCH_PATTERN},
            "Text in the message or the data, case-insensitive (on MariaDB its words must begin words)",
        ),
        query("sort", {"type": "string", "enum": list(SORTS)}, "Sort key"),
        query("order", {"type": "string", "enum": list(ORDERS)}, "Sort order"),
        *PAGE_PARAMETERS,
    ]


def _upload_operation(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": "Multipart field `file`. The file may be as large as the worker setting `upload_max_mb` "
        "(default 20); each request at most MAX_CONTENT_LENGTH (else STASK_MAX_REQUEST_MB), so a bigger file comes "
        "in chunks: send `Content-Range: bytes first-last/total` with each, in order, and the `upload_id` the "
        "first chunk returned. A chunk that does not continue where the stored bytes end gets 409 with an "
        "`Upload-Offset` header: resume from that byte. Extensions: the setting `upload_extensions` (default "
        "csv, txt, json).",
        "parameters": [
            *parameters,
            {
                "name": "Content-Range",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^bytes [0-9]{1,15}-[0-9]{1,15}/[0-9]{1,15}$"},
                "description": "bytes first-last/total, for chunked uploads (first <= last < total)",
            },
            {"name": "X-Upload-Id", "in": "header", "required": False, "schema": UPLOAD_ID_SCHEMA},
        ],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("UploadRequest")}}},
        "responses": {
            "201": json_response(ref("Upload"), "The file is stored (complete)"),
            "202": json_response(ref("Upload"), "A chunk is stored; send the next one"),
            **errors("400", "401", "403", "404", "413", "415"),
            "409": {
                **json_response(ref("Error"), "The task has ended, or the chunk does not continue the upload"),
                "headers": {
                    "Upload-Offset": {
                        "description": "The byte the upload continues at (a chunk out of order)",
                        "schema": {"type": "integer", "minimum": 0},
                    }
                },
            },
        },
    }


def _paths() -> dict[str, Any]:
    download_types = sorted(SAFE_DOWNLOAD_TYPES | {"application/octet-stream"})
    return {
        "/worker/{identifier}/run/{action}": {
            "post": {
                "summary": "Start an action of a worker",
                "tags": ["tasks"],
                "parameters": [IDENTIFIER, ACTION],
                "requestBody": {"required": False, "content": {"application/json": {"schema": ref("RunRequest")}}},
                "responses": {
                    "201": json_response(ref("TaskCreated"), "The task is stored and queued"),
                    **errors("400", "401", "403", "404", "409", "413", "415"),
                },
            }
        },
        "/task/{task_id}/progress": {
            "get": {
                "summary": "Live progress of a task",
                "tags": ["tasks"],
                "parameters": [
                    TASK_ID,
                    {
                        "name": "lines",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LINES},
                        "description": "Log lines to return (default 20)",
                    },
                ],
                "responses": {**ok("Progress"), **errors("400", "401", "404")},
            }
        },
        "/task/{task_id}/download": {
            "get": {
                "summary": "Download the task's result file",
                "tags": ["tasks"],
                "parameters": [
                    TASK_ID,
                    {
                        "name": "file",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "pattern": RESULT_FILE_PATTERN},
                        "description": "Another file of the task's result folder (leave it out for the result "
                        "file): relative, no NUL, no '.' or '..' segment; a symbolic link leading out of the "
                        "folder is refused too (400)",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment",
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"} if t != "application/json" else {}}
                            for t in download_types
                        },
                    },
                    **errors("400", "401", "404"),
                },
            }
        },
        "/task/{task_id}/upload": {
            "post": {**_upload_operation("Attach a file to a task", [TASK_ID]), "tags": ["uploads"]}
        },
        "/worker/{identifier}/upload": {
            "post": {**_upload_operation("Upload a file for a worker", [IDENTIFIER]), "tags": ["uploads"]}
        },
        "/stats": {
            "get": {
                "summary": "Task counts by status, workers, queue depths",
                "tags": ["tasks"],
                "responses": {**ok("Stats"), **errors("401")},
            }
        },
        "/api/tasks": {
            "get": {
                "summary": "List tasks (filters, search, sorting, pages)",
                "tags": ["tasks"],
                "parameters": _list_parameters(),
                "responses": {**ok("TaskList"), **errors("400", "401")},
            },
            "post": {
                "summary": "Create a task",
                "tags": ["tasks"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CreateRequest")}}},
                "responses": {
                    "201": json_response(ref("TaskCreated"), "The task is stored and queued"),
                    **errors("400", "401", "403", "404", "409", "413", "415"),
                },
            },
        },
        "/api/tasks/{task_id}": {
            "get": {
                "summary": "One task",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {**ok("TaskResponse"), **errors("401", "404")},
            },
            "delete": {
                "summary": "Delete a task that is not running (and its files)",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {**ok("TaskDeleted"), **errors("401", "403", "404", "409")},
            },
        },
        "/api/tasks/{task_id}/retry": {
            "post": {
                "summary": "Queue a failed or cancelled task again",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {**ok("TaskResponse"), **errors("401", "403", "404", "409")},
            }
        },
        "/api/tasks/{task_id}/cancel": {
            "post": {
                "summary": "Cancel a queued task, or ask a running one to stop",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {**ok("TaskResponse"), **errors("401", "403", "404", "409")},
            }
        },
        "/api/tasks/retry-failed": {
            "post": {
                "summary": "Queue failed tasks again, a batch at a time",
                "tags": ["tasks"],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": ref("RetryFailedRequest")}},
                },
                "responses": {**ok("RetryFailedResult"), **errors("400", "401", "403", "413", "415")},
            }
        },
        "/api/tasks/bulk": {
            "post": {
                "summary": "Retry, cancel or delete several tasks",
                "tags": ["tasks"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("BulkRequest")}}},
                "responses": {**ok("BulkResult", "Each id's outcome"), **errors("400", "401", "403", "413", "415")},
            }
        },
        "/api/workers": {
            "get": {
                "summary": "Registered workers",
                "tags": ["workers"],
                "responses": {**ok("WorkerList"), **errors("401")},
            }
        },
        "/api/workers/discover": {
            "post": {
                "summary": "Find installed worker classes and register new ones",
                "tags": ["workers"],
                "responses": {**ok("Discovery"), **errors("401", "403")},
            }
        },
        "/api/workers/{identifier}": {
            "get": {
                "summary": "One worker and its task counts",
                "tags": ["workers"],
                "parameters": [WORKER_TO_READ],
                "responses": {
                    **ok("WorkerDetail"),
                    **errors("404"),
                    "405": json_response(
                        ref("Error"), "The identifier discover: that path is the discovery's (POST only)"
                    ),
                },
            }
        },
        "/api/workers/{identifier}/activate": {
            "post": {
                "summary": "Activate a worker",
                "tags": ["workers"],
                "parameters": [IDENTIFIER],
                "responses": {**ok("WorkerResponse"), **errors("401", "403", "404")},
            }
        },
        "/api/workers/{identifier}/deactivate": {
            "post": {
                "summary": "Deactivate a worker (new tasks are refused)",
                "tags": ["workers"],
                "parameters": [IDENTIFIER],
                "responses": {**ok("WorkerResponse"), **errors("401", "403", "404")},
            }
        },
        "/api/workers/{identifier}/settings": {
            "get": {
                "summary": "A worker's settings",
                "tags": ["workers"],
                "parameters": [IDENTIFIER],
                "responses": {**ok("Settings"), **errors("401", "404")},
            },
            "put": {
                "summary": "Change some of a worker's settings",
                "tags": ["workers"],
                "parameters": [IDENTIFIER],
                "description": "A JSON object of setting -> value; keys and types must match the "
                "worker's default_settings. Omitted settings are kept.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {**ok("Settings"), **errors("400", "401", "403", "404", "413", "415")},
            },
        },
        # -- the audit log (stask.service.audit): one block, its schemas inline --------------------
        "/api/audit": {
            "get": {
                "summary": "The audit log: changes made by people and tokens, newest first",
                "tags": ["audit"],
                "description": "Any signed-in role may read it. Filters are exact matches, as on the task "
                "list; `since` and `until` take a date or a date-time (UTC without an offset; a bare "
                "`until` date includes its whole day; `since` after `until` matches nothing).",
                "parameters": [
                    list_filter("action", {"type": "string", "enum": list(audit.ACTIONS)}, "What was done"),
                    list_filter(
                        "actor", {"type": "string", "pattern": audit.ACTOR_PATTERN, "maxLength": 100}, "Who did it"
                    ),
                    list_filter(
                        "target", {"type": "string", "pattern": audit.TARGET_PATTERN, "maxLength": 100}, "On what"
                    ),
                    list_filter("since", DAY_SCHEMA, "At or after"),
                    list_filter("until", DAY_SCHEMA, "At or before"),
                    *PAGE_PARAMETERS,
                ],
                "responses": {
                    "200": json_response(
                        {
                            "type": "object",
                            "required": ["success", "items", "total", "total_capped", "page", "per_page", "pages"],
                            "properties": {
                                "success": SUCCESS,
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["id", "created_at", "actor_kind", "actor", "action", "details"],
                                        "properties": {
                                            "id": {"type": "integer", "format": "int64"},
                                            "created_at": {"type": "string", "format": "date-time"},
                                            "actor_role": nullable({"type": "string", "enum": list(audit.ROLES)}),
                                            "actor_kind": {"type": "string", "enum": list(audit.ACTOR_KINDS)},
                                            "actor": {"type": "string", "description": "A label, never a secret"},
                                            "client": nullable({"type": "string", "description": "Client address"}),
                                            "action": {"type": "string", "enum": list(audit.ACTIONS)},
                                            "target": nullable({"type": "string", "example": "task:42"}),
                                            "details": {"type": "object", "description": "Names and counts"},
                                        },
                                    },
                                },
                                "total": {"type": "integer", "description": "Matching entries, counted up to the cap"},
                                "total_capped": {"type": "boolean"},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "pages": {"type": "integer"},
                            },
                        },
                        "One page of entries",
                    ),
                    **errors("400", "401"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "responses": {"200": json_response({"type": "object"}, "OpenAPI 3 document"), **errors("401")},
            }
        },
    }


def _monitoring_paths() -> dict[str, Any]:
    try:
        from .monitoring import OPENAPI_PATHS
    except ImportError:
        return {}
    return dict(OPENAPI_PATHS)


def search_window_note(search_cap: int) -> str:
    """What a search lists (``stask.service.store._search_window``), said where ``q`` is described."""
    return (
        f". A search lists its first {search_cap} matches in the asked order: `total` counts up to"
        f" {search_cap}, and a page past them (past `pages`) has no items"
    )


def build_document(prefix: str, count_cap: int = COUNT_CAP) -> dict[str, Any]:
    """The whole document for stask mounted at ``prefix`` (task lists counted up to ``count_cap``)."""
    prefix = prefix.rstrip("/")
    schemas = copy.deepcopy(SCHEMAS)
    listed = schemas["TaskList"]["properties"]
    search_cap = min(count_cap, SEARCH_COUNT_CAP)
    listed["total"]["description"] = f"Matching tasks, counted up to {count_cap} ({search_cap} with q)"
    listed["total_capped"]["description"] = f"More than {count_cap} tasks match ({search_cap} with q)"
    paths: dict[str, Any] = {}
    unprefixed = {**_paths(), **_monitoring_paths()}
    add_schedules(schemas, unprefixed)
    add_presets(schemas, unprefixed)
    add_workflows(schemas, unprefixed)
    add_triggers(schemas, unprefixed)
    add_notifications(schemas, unprefixed)
    for path, item in unprefixed.items():
        full = path if prefix and (path == prefix or path.startswith(prefix + "/")) else prefix + path
        paths[full] = copy.deepcopy(item)
    for parameter in paths[prefix + "/api/tasks"]["get"]["parameters"]:
        if parameter["name"] == "q":
            parameter["description"] += search_window_note(search_cap)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "stask API",
            "version": _version(),
            "description": (
                "Background tasks for Flask. Authenticate with `Authorization: Bearer <token>` "
                "(STASK_API_TOKEN for admin, STASK_READONLY_TOKEN for read-only). Browser sessions of the "
                "panel work too, but their POST/PUT/DELETE requests need the `X-CSRF-Token` header. Every "
                'error is `{"success": false, "error": {"code", "message"}}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {f"E{code}": json_response(ref("Error"), text) for code, text in ERROR_TEXT.items()},
        },
    }


def _version() -> str:
    try:
        return version(_package)
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0"


@api_bp.get("/api/openapi.json")
def openapi_document() -> Response:
    service = current_stask()
    settings = service.settings
    document = build_document(settings.url_prefix, settings.list_count_cap)
    add_worker_settings(document, service, settings.url_prefix)  # each worker's settings schema
    return jsonify(document)
