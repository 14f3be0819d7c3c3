"""The triggers' part of the OpenAPI document: the management paths, the public hook paths,
and their schemas.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas. What a schema cannot state (that the worker, its action or
the preset exist, a name free among triggers, the action's own data fields on a call) is said
in the descriptions. The hook paths declare ``security: []``: their token is the credential.
"""

from __future__ import annotations

from typing import Any

from ..enums import Status
from ..notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from ..service.listing import MAX_PER_PAGE
from ..service.triggers import MAX_NAME, TOKEN_PATTERN
from ..settings import MAX_TRIGGER_RATE_LIMIT
from .openapi_parts import (
    ACTION_SCHEMA,
    DATE,
    ID_SCHEMA,
    IDENTIFIER_SCHEMA,
    PAGE_PARAMETERS,
    ROW_ID,
    SUCCESS,
    envelope,
    errors,
    json_body,
    list_filter,
    nullable,
)
from .openapi_parts import json_response as _json
from .openapi_parts import ref as _ref
from .openapi_presets import NAME_PATTERN

RATE_LIMIT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_TRIGGER_RATE_LIMIT}
TOKEN_SCHEMA = {"type": "string", "pattern": TOKEN_PATTERN, "minLength": 43, "maxLength": 43}


def _writable() -> dict[str, Any]:
    """The writable fields, with every constraint the service checks that a schema can say."""
    return {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            "pattern": NAME_PATTERN,
            "description": "Unique among triggers; printable characters, not only spaces",
            "example": "Deploy hook",
        },
        "identifier": {
            **IDENTIFIER_SCHEMA,
            "description": "A registered worker (with a preset: the preset's, or left out)",
            "example": "echo",
        },
        "action": {
            **ACTION_SCHEMA,
            "description": "One of the worker's actions (with a preset: the preset's, or left out)",
            "example": "say",
        },
        "preset_id": nullable(
            {**ID_SCHEMA, "description": "Run this preset: its worker, action, priority, and its data under the call's"}
        ),
        "signed": {
            "type": "boolean",
            "default": False,
            "description": f"Calls must carry {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}; turning it on "
            "answers the new secret, once",
        },
        "rate_limit": {
            **RATE_LIMIT_SCHEMA,
            "description": "Calls accepted per minute (default STASK_TRIGGER_RATE_LIMIT)",
        },
        "enabled": {"type": "boolean", "default": True, "description": "A disabled trigger's URL answers 404"},
    }


def _schemas() -> dict[str, Any]:
    writable = _writable()
    trigger = {
        "type": "object",
        "description": "Never the token, its hash or the secret: those are shown once, when made",
        "required": [
            "id",
            "name",
            "identifier",
            "action",
            "preset_id",
            "token_prefix",
            "signed",
            "rate_limit",
            "enabled",
            "created_by",
            "created_at",
            "updated_at",
            "last_called_at",
            "calls",
        ],
        "properties": {
            "id": ROW_ID,
            "name": {"type": "string", "maxLength": MAX_NAME},
            "identifier": {"type": "string"},
            "action": {"type": "string"},
            "preset_id": nullable(ROW_ID),
            "token_prefix": {"type": "string", "description": "The token's first characters, to tell triggers apart"},
            "signed": {"type": "boolean"},
            "rate_limit": RATE_LIMIT_SCHEMA,
            "enabled": {"type": "boolean"},
            "created_by": nullable({"type": "string"}),
            "created_at": DATE,
            "updated_at": DATE,
            "last_called_at": nullable(DATE),
            "calls": {"type": "integer", "minimum": 0, "description": "Calls recorded (throttled ones aside)"},
        },
    }
    secret = {"type": "string", "description": "The signing secret: shown this once, never again"}
    issued = envelope(id=ROW_ID, token={**TOKEN_SCHEMA, "description": "Shown this once"}, url={"type": "string"})
    issued["properties"].update(trigger=_ref("Trigger"), secret=secret)
    issued["required"].append("trigger")
    issued["properties"]["url"]["description"] = "The hook's absolute URL (it holds the token)"
    response = envelope(trigger=_ref("Trigger"))
    response["properties"]["secret"] = {**secret, "description": "Only when this change turned signed on"}
    return {
        "Trigger": trigger,
        "TriggerCreateRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "anyOf": [
                {"required": ["identifier", "action"]},
                {"required": ["preset_id"], "properties": {"preset_id": ID_SCHEMA}},
            ],
            "description": "A worker and one of its actions, or a preset (identifier and action, if given "
            "too, must be the preset's)",
            "properties": writable,
            "example": {"name": "Deploy hook", "identifier": "echo", "action": "say", "signed": True},
        },
        "TriggerUpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": writable,
            "description": "The fields to change; the others are kept. A trigger running a preset takes the "
            "preset's worker and action; preset_id null makes it run that action alone.",
            "example": {"enabled": False},
        },
        "TriggerRotateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secret": {
                    "type": "boolean",
                    "default": False,
                    "description": "Replace the signing secret too (signed triggers; else 409)",
                }
            },
        },
        "TriggerIssued": issued,
        "TriggerResponse": response,
        "TriggerDeleted": envelope(id=ROW_ID),
        "TriggerList": {
            "type": "object",
            "required": ["success", "items", "total", "page", "per_page", "pages"],
            "properties": {
                "success": SUCCESS,
                "items": {"type": "array", "items": _ref("Trigger")},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "pages": {"type": "integer", "minimum": 1},
            },
        },
        "HookAccepted": envelope(
            id=ROW_ID,
            status_url={"type": "string", "description": "Where the caller follows the task (no credentials needed)"},
        ),
        "HookTaskStatus": envelope(
            id=ROW_ID,
            status={"type": "integer", "enum": [int(s) for s in Status]},
            status_text={"type": "string", "enum": [s.text for s in Status]},
            progress={"type": "integer", "minimum": 0, "maximum": 100},
            message=nullable({"type": "string"}),
            created_at=DATE,
            finished_at=nullable(DATE),
        ),
    }


def _hook_error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = _json(_ref("Error"), description)
    if headers:
        answer["headers"] = headers
    return answer


def _hook_paths() -> dict[str, Any]:
    token = {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": TOKEN_SCHEMA,
        "description": "The trigger's token (from its creation or last rotation)",
    }
    not_found = _hook_error(
        "No enabled trigger has this token (unknown, rotated or disabled), or the trigger did not start "
        "that task: the same answer as any unknown path"
    )
    too_large = _hook_error("The body is larger than STASK_TRIGGER_MAX_BODY_KB (default 256 KiB)")
    return {
        "/hooks/{token}": {
            "post": {
                "summary": "Start the trigger's action with the body as its data (public: the token is the credential)",
                "description": "No credentials and no CSRF token: hold the URL. The body is the task's data: a "
                "JSON object (an empty body is none), merged over the preset's data one level deep for a "
                "trigger running a preset, and checked against the action's fields. A signed trigger needs "
                f"`{TIMESTAMP_HEADER}` (Unix seconds, within 5 minutes of the server's clock) and "
                f'`{SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>`. '
                "Each trigger takes rate_limit calls per minute.",
                "tags": ["triggers"],
                "security": [],
                "parameters": [
                    token,
                    {
                        "name": TIMESTAMP_HEADER,
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
                        "description": "Signed triggers: when the signature was made (Unix seconds)",
                    },
                    {
                        "name": SIGNATURE_HEADER,
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                        "description": "Signed triggers: sha256=<hex HMAC-SHA256 of '<timestamp>.<raw body>'>",
                    },
                ],
                "requestBody": json_body(
                    {"type": "object", "description": "The task's data (checked against the action's fields)"},
                    required=False,
                ),
                "responses": {
                    "201": _json(_ref("HookAccepted"), "The task is stored and queued"),
                    "400": _hook_error("The body is no JSON object, or its data fails the action's fields"),
                    "401": _hook_error("A signed trigger's signature is missing, wrong or older than 5 minutes"),
                    "404": not_found,
                    "409": _hook_error("The trigger's worker is inactive, or its action no longer exists"),
                    "413": too_large,
                    "429": _hook_error(
                        "The trigger took its rate_limit calls this minute: wait (Retry-After)",
                        {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                    ),
                },
            }
        },
        "/hooks/{token}/tasks/{task_id}": {
            "get": {
                "summary": "Follow a task the trigger's URL started (public: the token is the credential)",
                "tags": ["triggers"],
                "security": [],
                "parameters": [
                    token,
                    {"name": "task_id", "in": "path", "required": True, "schema": ID_SCHEMA, "example": 1},
                ],
                "responses": {
                    "200": _json(_ref("HookTaskStatus"), "The task's status"),
                    "404": not_found,
                    "413": _hook_error("The request body is too large"),
                },
            }
        },
    }


def _paths() -> dict[str, Any]:
    trigger_id = {"name": "trigger_id", "in": "path", "required": True, "schema": ID_SCHEMA, "example": 1}

    def one(summary: str, response: str, *codes: str) -> dict[str, Any]:
        return {
            "summary": summary,
            "tags": ["triggers"],
            "parameters": [trigger_id],
            "responses": {"200": _json(_ref(response), "Success"), **errors(*codes)},
        }

    return {
        "/api/triggers": {
            "get": {
                "summary": "List triggers (by name)",
                "tags": ["triggers"],
                "parameters": [
                    list_filter("identifier", IDENTIFIER_SCHEMA, "Only the triggers of this worker"),
                    *PAGE_PARAMETERS,
                ],
                "responses": {"200": _json(_ref("TriggerList"), "Success"), **errors("400", "401")},
            },
            "post": {
                "summary": "Create a trigger: its token and URL (and secret, when signed) are answered once",
                "tags": ["triggers"],
                "requestBody": json_body(_ref("TriggerCreateRequest")),
                "responses": {
                    "201": _json(_ref("TriggerIssued"), "Stored; keep the token: it is never shown again"),
                    **errors("400", "401", "403", "409", "413", "415"),
                },
            },
        },
        "/api/triggers/{trigger_id}": {
            "get": one("One trigger", "TriggerResponse", "401", "404"),
            "put": {
                **one("Change a trigger", "TriggerResponse", "400", "401", "403", "404", "409", "413", "415"),
                "requestBody": json_body(_ref("TriggerUpdateRequest")),
            },
            "delete": one(
                "Delete a trigger and its call log (its URL answers 404 at once; its tasks are kept)",
                "TriggerDeleted",
                "401",
                "403",
                "404",
            ),
        },
        "/api/triggers/{trigger_id}/rotate": {
            "post": {
                **one(
                    "A new token (the old URL stops at once), answered once",
                    "TriggerIssued",
                    "400",
                    "401",
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                ),
                "requestBody": json_body(_ref("TriggerRotateRequest"), required=False),
            }
        },
    }


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the triggers' schemas and paths (management and hooks) to a document being built."""
    schemas.update(_schemas())
    paths.update(_paths())
    paths.update(_hook_paths())
