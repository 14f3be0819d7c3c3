"""The parts every section of the OpenAPI document shares, written once.

:mod:`stask.web.openapi` (tasks, workers, audit), :mod:`stask.web.openapi_schedules` and
:mod:`stask.web.openapi_settings` build their paths from these: references, responses, the
error answers (with the guard's on every authenticated operation), and the schemas of the
rules the server enforces (ids, identifiers, actions, priorities, date-times, list filters).
Nothing here imports the views, so every section can use it.
"""

from __future__ import annotations

from typing import Any

from ..service.listing import MAX_PAGE, MAX_PER_PAGE, PRIORITIES
from ..validation import ACTION_PATTERN, DATE_OR_DATE_TIME_PATTERN, DATE_TIME_PATTERN, MAX_ATTEMPTS_LIMIT, MAX_ID
from ..workers.base import IDENTIFIER_PATTERN


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A request body of ``application/json``."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


ERROR_TEXT = {
    "400": "Bad input (malformed JSON, wrong types, invalid values)",
    "401": "No valid credentials",
    "403": "The read-only role cannot do this, the CSRF token is missing, or the host's STASK_AUTHORIZE refuses",
    "404": "No such task, worker, action or file",
    "409": "The task or worker is not in a state that allows this",
    "413": "The body or the file is too large",
    "415": "Wrong content type or file type",
    "429": "Too many bad bearer tokens from this client: wait (Retry-After) and try again",
}
#: Every authenticated operation can answer these, whatever it does: no or bad credentials (401),
#: refused by the host or missing CSRF token (403), a body over STASK_MAX_REQUEST_MB (413),
#: a client throttled after bad bearer tokens (429).
GUARD_CODES = ("401", "403", "413", "429")


def errors(*codes: str) -> dict[str, Any]:
    """Error responses: ``codes`` plus those of the guard, in numeric order."""
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in sorted({*codes, *GUARD_CODES})}


def ok(name: str, description: str = "Success", status: str = "200") -> dict[str, Any]:
    """The success answer: the component schema ``name``."""
    return {status: json_response(ref(name), description)}


#: ``success`` of every successful answer.
SUCCESS = {"type": "boolean", "enum": [True]}
#: A date-time as the server writes it (UTC, ``Z``).
DATE = {"type": "string", "format": "date-time"}
#: A row id as the server writes it.
ROW_ID = {"type": "integer", "format": "int64"}


def envelope(**members: dict[str, Any]) -> dict[str, Any]:
    """A success answer: ``{"success": true, <members>}``, every member required."""
    return {"type": "object", "required": ["success", *members], "properties": {"success": SUCCESS, **members}}


def row_answers(name: str, *, deleted: bool = True) -> dict[str, Any]:
    """The answers about one row of a kind (``Schedule``, ``Preset``, ``Group``): ``<name>Created``
    (``id`` and the row), ``<name>Response`` (the row) and, unless told, ``<name>Deleted`` (``id``)."""
    row = {name.lower(): ref(name)}
    answers = {f"{name}Created": envelope(id=ROW_ID, **row), f"{name}Response": envelope(**row)}
    if deleted:
        answers[f"{name}Deleted"] = envelope(id=ROW_ID)
    return answers


#: The rules the server enforces, stated once; every request schema uses them.
ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
IDENTIFIER_SCHEMA = {"type": "string", "pattern": IDENTIFIER_PATTERN, "maxLength": 64}
ACTION_SCHEMA = {"type": "string", "pattern": ACTION_PATTERN, "maxLength": 64}
PRIORITY_SCHEMA = {"type": "string", "enum": list(PRIORITIES)}
#: A date-time in a request body (``stask.validation.parse_api_datetime``).
DATE_TIME_SCHEMA = {"type": "string", "pattern": DATE_TIME_PATTERN}
START_AT_SCHEMA = {
    **DATE_TIME_SCHEMA,
    "description": "Run not before this moment: YYYY-MM-DDThh:mm[:ss[.ffffff]] and an optional offset "
    "(Z or ±hh:mm; UTC without one), years 2000 to 9000 as written",
    "example": "2030-01-31T12:00:00Z",
}
MAX_ATTEMPTS_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS_LIMIT}
#: A date, or a date-time (UTC without an offset), as the list filters take them.
DAY_SCHEMA = {"type": "string", "pattern": DATE_OR_DATE_TIME_PATTERN}


def char_class(characters: list[str]) -> str:
    """A regex character class of ``characters`` written as ``\\uXXXX`` ranges (portable to ECMA-262)."""
    codes = sorted(ord(c) for c in characters)
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    parts = [f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges]
    return "[" + "".join(parts) + "]"


def id_parameter(name: str) -> dict[str, Any]:
    """A path id (the ``id`` converter of :mod:`stask.web.api`: ASCII digits, 1 to MAX_ID, else 404)."""
    return {"name": name, "in": "path", "required": True, "schema": ID_SCHEMA, "example": 1}


def list_filter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A list filter. An empty value means "not given" (``allowEmptyValue``): the panel's filter
    forms send every field. Anything else must match exactly (no trimming, no case folding)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": schema,
        "description": description,
    }


#: The pagination parameters of every list (``stask.service.listing``).
PAGE_PARAMETERS = [
    list_filter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number"),
    list_filter("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "Rows per page"),
]
