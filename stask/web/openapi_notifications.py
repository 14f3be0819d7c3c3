"""The notification rules' and the delivery log's part of the OpenAPI document.

:func:`extend_document` is called by :func:`stask.web.openapi.build_document` with the
unprefixed paths and the schemas. Every rule a schema can state is here (enums, lengths,
patterns, list sizes); what it cannot is in the descriptions, and the server answers 400 naming
the field: a channel's required field and the other channel's fields (``to`` for e-mail, ``url``
for webhooks), a registered worker and one of its actions, what the transports refuse (a private
address without ``STASK_WEBHOOK_ALLOW_PRIVATE``, a header stask sets itself, an address or a
template that does not parse), and names of the form ``task <n> #<m>`` (kept for a task's rules).
"""

from __future__ import annotations

from typing import Any

from ..service import notification_rules as rules
from ..service.listing import MAX_PER_PAGE
from ..service.notifications import DELIVERY_STATUSES, EXCERPT_CHARS
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
    id_parameter,
    json_body,
    list_filter,
    nullable,
    ref,
    row_answers,
)
from .openapi_parts import json_response as _json
from .openapi_presets import NAME_PATTERN

#: Printable text: no control characters (a subject, a secret, an address, a header's value).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
#: A body may keep tab and line breaks.
BODY_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
#: A name (the presets' rule), but not one of the names kept for a task's own rules.
RULE_NAME_PATTERN = "^(?!\\s*task [0-9]+ #[0-9]+\\s*$)" + NAME_PATTERN[1:]
TAG = ["notifications"]


def _writable() -> dict[str, Any]:
    """The writable fields, with every constraint the service checks that a schema can say."""
    return {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": rules.MAX_NAME,
            "pattern": RULE_NAME_PATTERN,
            "description": "Unique; printable characters, not only spaces; not of the form 'task <n> #<m>'",
            "example": "Failed exports to the team",
        },
        "identifier": nullable(
            {**IDENTIFIER_SCHEMA, "description": "A registered worker; null: any worker", "example": "csv_export"}
        ),
        "action": nullable(
            {
                **ACTION_SCHEMA,
                "description": "One of the worker's actions (any registered worker's when identifier is null); "
                "null: any action",
                "example": "export",
            }
        ),
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": len(rules.EVENTS),
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(rules.EVENTS)},
            "description": "finished; failed (after its last attempt); retrying (an attempt failed, another is "
            "scheduled); cancelled; stuck; group_finished (only in a rule for any worker and any action); "
            "schedule_missed",
            "example": ["failed"],
        },
        "channel": {"type": "string", "enum": list(rules.CHANNELS)},
        "to": nullable(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": rules.MAX_RECIPIENTS,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": rules.MAX_ADDRESS, "pattern": TEXT_PATTERN},
                "description": "E-mail rules only (required there): the recipients' addresses",
                "example": ["ops@example.com"],
            }
        ),
        "url": nullable(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": rules.MAX_URL,
                "pattern": rules.URL_PATTERN,
                "description": "Webhook rules only (required there): http(s); private, loopback and link-local "
                "addresses are refused unless STASK_WEBHOOK_ALLOW_PRIVATE=true",
                "example": "https://hooks.example.com/stask",
            }
        ),
        "secret": nullable(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": rules.MAX_SECRET,
                "pattern": TEXT_PATTERN,
                "writeOnly": True,
                "description": "Webhook rules only: the HMAC key of X-Stask-Signature. Never answered; on a change, "
                "leave it out to keep it, null clears it",
            }
        ),
        "headers": nullable(
            {
                "type": "object",
                "maxProperties": rules.MAX_HEADERS,
                "additionalProperties": {
                    "type": "string",
                    "maxLength": rules.MAX_HEADER_CHARS,
                    "pattern": rules.HEADER_VALUE_PATTERN,
                },
                "description": "Webhook rules only: extra headers (names are HTTP tokens, each once; "
                "Host, Content-Type, Content-Length, Connection, Transfer-Encoding and X-Stask-* are stask's)",
                "example": {"X-Team": "ops"},
            }
        ),
        "format": nullable(
            {
                "type": "string",
                "enum": list(rules.FORMATS),
                "description": "Webhook rules only: json (the default) or a Slack-compatible body",
            }
        ),
        "enabled": {"type": "boolean", "default": True},
        "language": nullable(
            {"type": "string", "enum": list(rules.LANGUAGES), "description": "Of the texts sent; null: English"}
        ),
        "subject": nullable(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": rules.MAX_SUBJECT,
                "pattern": TEXT_PATTERN,
                "description": "E-mail rules only: the subject's template (one line); null: the default",
            }
        ),
        "body": nullable(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": rules.MAX_BODY,
                "pattern": BODY_PATTERN,
                "description": "E-mail rules only: the body's template; null: the default",
            }
        ),
    }


#: What a request schema says that an answer need not: a task's own rule is named ``task 12 #1``,
#: and a rule stored under other settings keeps what it was given.
_REQUEST_ONLY = frozenset({"pattern", "minLength", "writeOnly", "example", "default"})


def _rule_schema(writable: dict[str, Any]) -> dict[str, Any]:
    """The rule as answered: the writable fields (the secret always null) and the read-only ones."""
    shown = {
        name: {key: value for key, value in schema.items() if key not in _REQUEST_ONLY}
        for name, schema in writable.items()
    }
    shown["secret"] = {"type": "string", "nullable": True, "enum": [None], "description": "Never answered"}
    return {
        "type": "object",
        "required": ["id", *rules.FIELDS, "secret_set", "task_id", "created_by", "created_at", "updated_at"],
        "properties": {
            "id": ROW_ID,
            **shown,
            "secret_set": {"type": "boolean", "description": "Whether the rule has a secret"},
            "task_id": nullable({**ROW_ID, "description": "Set on the rules a task brought (notify=[...])"}),
            "created_by": nullable({"type": "string"}),
            "created_at": DATE,
            "updated_at": DATE,
        },
    }


def _delivery_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": [
            "id",
            "notification_id",
            "event",
            "subject",
            "task_id",
            "group_id",
            "schedule_id",
            "status",
            "attempts",
            "response_code",
            "response_excerpt",
            "error",
            "job_task_id",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ],
        "properties": {
            "id": ROW_ID,
            "notification_id": ROW_ID,
            "event": {"type": "string", "enum": list(rules.EVENTS)},
            "subject": {"type": "string", "description": "What the event is about: task:12, group:3, schedule:5:..."},
            "task_id": nullable(ROW_ID),
            "group_id": nullable(ROW_ID),
            "schedule_id": nullable(ROW_ID),
            "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
            "attempts": {"type": "integer", "minimum": 0},
            "response_code": nullable({"type": "integer"}),
            "response_excerpt": nullable({"type": "string", "maxLength": EXCERPT_CHARS}),
            "error": nullable({"type": "string"}),
            "job_task_id": nullable({**ROW_ID, "description": "The notifier task that sends it"}),
            "created_at": DATE,
            "last_attempt_at": nullable(DATE),
            "delivered_at": nullable(DATE),
        },
    }


def _list(item: str, *, capped: bool = False) -> dict[str, Any]:
    required = ["success", "items", "total", "page", "per_page", "pages"]
    properties: dict[str, Any] = {
        "success": SUCCESS,
        "items": {"type": "array", "items": ref(item)},
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "pages": {"type": "integer", "minimum": 1},
    }
    if capped:
        required.append("total_capped")
        properties["total_capped"] = {"type": "boolean", "description": "More rows match than were counted"}
    return {"type": "object", "required": required, "properties": properties}


def _schemas() -> dict[str, Any]:
    writable = _writable()
    return {
        "Notification": _rule_schema(writable),
        "NotificationCreateRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "events", "channel"],
            "properties": writable,
            "description": "An e-mail rule needs to; a webhook rule needs url; a field of the other channel is "
            "refused (400), null means not set",
            "example": {"name": "Failures", "events": ["failed"], "channel": "email", "to": ["ops@example.com"]},
        },
        "NotificationUpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": writable,
            "description": "The fields to change; the others are kept (the secret too, unless given). A new "
            "channel drops the old one's fields and needs its own.",
            "example": {"enabled": False},
        },
        **row_answers("Notification"),
        "NotificationList": _list("Notification"),
        "NotificationTest": _test_schema(),
        "Delivery": _delivery_schema(),
        "DeliveryList": _list("Delivery", capped=True),
        "DeliveryResponse": envelope(delivery=ref("Delivery")),
    }


def _test_schema() -> dict[str, Any]:
    answer = envelope(
        ok={"type": "boolean", "description": "The receiver took it (2xx, or the mail server accepted it)"},
        response_code=nullable({"type": "integer", "description": "The receiver's status code, if it answered"}),
        excerpt={"type": "string", "maxLength": EXCERPT_CHARS, "description": "The start of its answer"},
    )
    answer["properties"]["error"] = {"type": "string", "description": "Why it failed (only when ok is false)"}
    return answer


def _delivery_filters(*, with_rule: bool) -> list[dict[str, Any]]:
    rule = [list_filter("notification_id", ID_SCHEMA, "Only this rule's deliveries")] if with_rule else []
    return [
        *rule,
        list_filter("status", {"type": "string", "enum": list(DELIVERY_STATUSES)}, "Only deliveries in this state"),
        list_filter("task_id", ID_SCHEMA, "Only this task's"),
        list_filter("event", {"type": "string", "enum": list(rules.EVENTS)}, "Only this event's"),
        *PAGE_PARAMETERS,
    ]


def _paths() -> dict[str, Any]:
    rule_id = id_parameter("notification_id")

    def one(summary: str, response: str, *codes: str, status: str = "200") -> dict[str, Any]:
        return {
            "summary": summary,
            "tags": TAG,
            "parameters": [rule_id],
            "responses": {status: _json(ref(response), "Success"), **errors(*codes)},
        }

    return {
        "/api/notifications": {
            "get": {
                "summary": "List notification rules by name (the shared ones, or one task's with task_id)",
                "tags": TAG,
                "parameters": [
                    list_filter("channel", {"type": "string", "enum": list(rules.CHANNELS)}, "Only this channel's"),
                    list_filter("enabled", {"type": "string", "enum": ["true", "false"]}, "Only enabled or disabled"),
                    list_filter("identifier", IDENTIFIER_SCHEMA, "Only the rules naming this worker"),
                    list_filter("task_id", ID_SCHEMA, "The rules this task brought (notify=[...]) instead"),
                    *PAGE_PARAMETERS,
                ],
                "responses": {"200": _json(ref("NotificationList"), "Success"), **errors("400", "401")},
            },
            "post": {
                "summary": "Create a notification rule",
                "tags": TAG,
                "requestBody": json_body(ref("NotificationCreateRequest")),
                "responses": {
                    "201": _json(ref("NotificationCreated"), "The rule is stored"),
                    **errors("400", "401", "403", "409", "413", "415"),
                },
            },
        },
        "/api/notifications/{notification_id}": {
            "get": one("One notification rule (its secret is never answered)", "NotificationResponse", "401", "404"),
            "put": {
                **one(
                    "Change a notification rule",
                    "NotificationResponse",
                    "400",
                    "401",
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                ),
                "requestBody": json_body(ref("NotificationUpdateRequest")),
            },
            "delete": one(
                "Delete a notification rule and its delivery log", "NotificationDeleted", "401", "403", "404"
            ),
        },
        "/api/notifications/{notification_id}/test": {
            "post": one(
                "Send a sample event now: 200 with what the receiver answered (ok false when it refused or was "
                "unreachable)",
                "NotificationTest",
                "401",
                "403",
                "404",
            )
        },
        "/api/notifications/{notification_id}/deliveries": {
            "get": {
                **one("One rule's delivery log, newest first", "DeliveryList", "400", "401", "404"),
                "parameters": [rule_id, *_delivery_filters(with_rule=False)],
            }
        },
        "/api/deliveries": {
            "get": {
                "summary": "The delivery log, newest first (the payloads sent are not listed)",
                "tags": TAG,
                "parameters": _delivery_filters(with_rule=True),
                "responses": {"200": _json(ref("DeliveryList"), "Success"), **errors("400", "401")},
            }
        },
        "/api/deliveries/{delivery_id}/redeliver": {
            "post": {
                "summary": "Send a delivery again (a new notifier task): 202, queued",
                "tags": TAG,
                "parameters": [id_parameter("delivery_id")],
                "responses": {
                    "202": _json(ref("DeliveryResponse"), "Queued again"),
                    **errors("401", "403", "404", "409"),
                },
            }
        },
    }


def _task_notify(writable: dict[str, Any]) -> dict[str, Any]:
    """``notify`` on a new task: its own rules, as objects or as an address or URL shorthand."""
    own = {k: v for k, v in writable.items() if k not in ("name", "identifier", "action")}
    own["events"] = {
        **own["events"],
        "maxItems": len(rules.TASK_EVENTS),
        "items": {"type": "string", "enum": list(rules.TASK_EVENTS)},
        "description": "Of this task only; default finished and failed",
    }
    shorthand = {
        "type": "string",
        "minLength": 1,
        "maxLength": rules.MAX_URL,
        "pattern": TEXT_PATTERN,
        "description": "An http(s) URL (a JSON webhook) or an e-mail address",
    }
    rule = {
        "type": "object",
        "additionalProperties": False,
        "properties": own,
        "description": "A rule of this task alone: channel (or to / url alone, which imply it) and its fields",
    }
    return nullable(
        {
            "type": "array",
            "maxItems": rules.MAX_TASK_RULES,
            "items": {"oneOf": [shorthand, rule]},
            "description": "Notification rules of this task alone (docs/notifications.md); they follow its "
            "finished, failed, retrying, cancelled and stuck events",
            "example": ["ops@example.com", {"url": "https://hooks.example.com/stask", "events": ["failed"]}],
        }
    )


def extend_document(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Add the notification rules' and the delivery log's schemas and paths to a document being built,
    and ``notify`` to the requests that create a task."""
    schemas.update(_schemas())
    paths.update(_paths())
    notify = _task_notify(_writable())
    for request in ("CreateRequest", "RunRequest"):
        schemas[request]["properties"]["notify"] = notify
