"""The presets' part of the OpenAPI document: paths and schemas.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas, before the prefix is applied. What a schema cannot state
(that the worker and its action exist, the action's own data fields, a name free for that
worker) is said in the descriptions; the server answers 400 (or 409 for a taken name).
"""

from __future__ import annotations

from typing import Any

from ..service.listing import MAX_PER_PAGE, PRIORITIES
from ..service.presets import MAX_NAME
from .openapi_parts import (
    ACTION_SCHEMA,
    DATE,
    ID_SCHEMA,
    IDENTIFIER_SCHEMA,
    PAGE_PARAMETERS,
    SUCCESS,
    errors,
    json_body,
    list_filter,
    row_answers,
)
from .openapi_parts import json_response as _json
from .openapi_parts import ref as _ref

#: A name: 1 to MAX_NAME printable characters, not only spaces (stored without outer spaces).
NAME_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"


def _writable(identifier: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    """The writable fields, with every constraint the service checks that a schema can say."""
    return {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            "pattern": NAME_PATTERN,
            "description": "Unique per worker; printable characters, not only spaces",
            "example": "Nightly report",
        },
        "identifier": {**identifier, "description": "A registered worker (it may be inactive)", "example": "echo"},
        "action": {**action, "description": "One of the worker's actions", "example": "say"},
        "data": {
            "type": "object",
            "nullable": True,
            "description": "Options of each run (JSON object, < 1 MB); checked against the action's fields",
        },
        "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"},
    }


def _schemas(writable: dict[str, Any], id_schema: dict[str, Any]) -> dict[str, Any]:
    preset = {
        "type": "object",
        "required": [
            "id",
            "name",
            "identifier",
            "action",
            "data",
            "priority",
            "created_by",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": id_schema,
            "name": {"type": "string", "maxLength": MAX_NAME},
            "identifier": {"type": "string"},
            "action": {"type": "string"},
            "data": {"type": "object"},
            "priority": {"type": "string", "enum": list(PRIORITIES)},
            "created_by": {"type": "string", "nullable": True},
            "created_at": DATE,
            "updated_at": DATE,
        },
    }
    return {
        "Preset": preset,
        "PresetCreateRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "identifier", "action"],
            "properties": writable,
            "example": {"name": "Greet the team", "identifier": "echo", "action": "say", "data": {"text": "hi"}},
        },
        "PresetUpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": writable,
            "description": "The fields to change; the others are kept. The result is validated whole.",
            "example": {"priority": "high"},
        },
        "PresetRunRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "data": {
                    "type": "object",
                    "description": "Merged over the preset's data one level deep (a key given replaces the "
                    "preset's value whole); the merged data is checked against the action's fields",
                }
            },
            "example": {"data": {"text": "hello again"}},
        },
        **row_answers("Preset"),
        "PresetList": {
            "type": "object",
            "required": ["success", "items", "total", "page", "per_page", "pages"],
            "properties": {
                "success": SUCCESS,
                "items": {"type": "array", "items": _ref("Preset")},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "pages": {"type": "integer", "minimum": 1},
            },
        },
    }


def _paths(errors: Any, id_schema: dict[str, Any], identifier: dict[str, Any]) -> dict[str, Any]:
    preset_id = {"name": "preset_id", "in": "path", "required": True, "schema": id_schema, "example": 1}

    def one(summary: str, response: str, *codes: str, status: str = "200") -> dict[str, Any]:
        return {
            "summary": summary,
            "tags": ["presets"],
            "parameters": [preset_id],
            "responses": {status: _json(_ref(response), "Success"), **errors(*codes)},
        }

    return {
        "/api/presets": {
            "get": {
                "summary": "List presets (by worker and name)",
                "tags": ["presets"],
                "parameters": [
                    list_filter("identifier", identifier, "Only this worker's presets"),
                    *PAGE_PARAMETERS,
                ],
                "responses": {"200": _json(_ref("PresetList"), "Success"), **errors("400", "401")},
            },
            "post": {
                "summary": "Save a preset",
                "tags": ["presets"],
                "requestBody": json_body(_ref("PresetCreateRequest")),
                "responses": {
                    "201": _json(_ref("PresetCreated"), "The preset is stored"),
                    **errors("400", "401", "403", "409", "413", "415"),
                },
            },
        },
        "/api/presets/{preset_id}": {
            "get": one("One preset", "PresetResponse", "401", "404"),
            "put": {
                **one("Change a preset", "PresetResponse", "400", "401", "403", "404", "409", "413", "415"),
                "requestBody": json_body(_ref("PresetUpdateRequest")),
            },
            "delete": one(
                "Delete a preset; refused (409 preset_in_use, naming them) while schedules run it",
                "PresetDeleted",
                "401",
                "403",
                "404",
                "409",
            ),
        },
        "/api/presets/{preset_id}/run": {
            "post": {
                **one(
                    "Run a preset: one task, with data merged over the preset's",
                    "TaskCreated",
                    "400",
                    "401",
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    status="201",
                ),
                "requestBody": json_body(_ref("PresetRunRequest"), required=False),
            }
        },
    }


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the presets' schemas and paths to a document being built."""
    schemas.update(_schemas(_writable(IDENTIFIER_SCHEMA, ACTION_SCHEMA), ID_SCHEMA))
    paths.update(_paths(errors, ID_SCHEMA, IDENTIFIER_SCHEMA))
