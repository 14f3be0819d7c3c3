"""The notification rules' JSON API: list, create, read, change, delete, send a test; and the
delivery log: list, redeliver.

Routes live on the API blueprint (``/stask/api/notifications...``, ``/stask/api/deliveries...``);
reading needs any role, changing, testing and redelivering the admin role. Every change leaves
an audit row (names and fields, never a secret or an address list). A rule's secret is never
answered (``"secret": null`` and ``"secret_set"``). The OpenAPI description is
:mod:`stask.web.openapi_notifications`.

"Send test" answers 200 whatever the receiver said: ``{"ok": true|false, "response_code",
"excerpt"}`` (and ``"error"`` when it failed): the request itself went well, and the receiver's
answer is what the caller wants to see, so it is data, not an error of this API.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..models import Notification
from ..service import current_stask
from ..service.notification_rules import FIELDS
from ..service.notifications import page_dict, parse_delivery_query, parse_rule_query
from .api import api_bp, json_body, ok
from .audit_trail import record
from .auth import require_write

#: Who created a rule through the API (``created_by``).
CREATED_BY = "api"
_FIELDS = frozenset(FIELDS)


def rule_details(rule: Notification, fields: Any = None) -> dict[str, Any]:
    """An audit row's details: the name, what it matches, the channel (never a secret or an address)."""
    details: dict[str, Any] = {
        "name": rule.name,
        "identifier": rule.identifier,
        "action": rule.action,
        "channel": rule.channel,
    }
    if fields is not None:
        details["fields"] = sorted(str(name) for name in fields)
    return details


@api_bp.get("/api/notifications")
def list_notifications() -> Response:
    """Shared rules by name, a page at a time (``task_id`` lists one task's own rules instead)."""
    service = current_stask().notifications
    page = service.list(parse_rule_query(request.args))
    return ok(**page_dict(page, service.to_dict))


@api_bp.post("/api/notifications")
@require_write
def create_notification() -> Response:
    service = current_stask().notifications
    rule = service.create(json_body(allowed=_FIELDS, required=True), created_by=CREATED_BY)
    record("notification.create", f"notification:{rule.id}", rule_details(rule))
    return ok(201, id=rule.id, notification=service.to_dict(rule))


@api_bp.get("/api/notifications/<id:notification_id>")
def get_notification(notification_id: int) -> Response:
    service = current_stask().notifications
    return ok(notification=service.to_dict(service.get(notification_id)))


@api_bp.put("/api/notifications/<id:notification_id>")
@require_write
def update_notification(notification_id: int) -> Response:
    """Change the fields given (the others are kept; ``secret`` absent keeps it, ``null`` clears it)."""
    body = json_body(allowed=_FIELDS, required=True)
    service = current_stask().notifications
    rule = service.update(notification_id, body)
    record("notification.update", f"notification:{notification_id}", rule_details(rule, body))
    return ok(notification=service.to_dict(rule))


@api_bp.delete("/api/notifications/<id:notification_id>")
@require_write
def delete_notification(notification_id: int) -> Response:
    """Delete a rule and its delivery log."""
    service = current_stask().notifications
    details = rule_details(service.get(notification_id))
    service.delete(notification_id)
    record("notification.delete", f"notification:{notification_id}", details)
    return ok(id=notification_id)


@api_bp.post("/api/notifications/<id:notification_id>/test")
@require_write
def test_notification(notification_id: int) -> Response:
    """Send a sample event now; 200 with what the receiver answered, good or bad (see the module doc)."""
    outcome = current_stask().notifications.send_test(notification_id)
    details = {"ok": outcome.ok, "response_code": outcome.response_code}
    record("notification.test", f"notification:{notification_id}", details)
    return ok(**outcome.to_dict())


@api_bp.get("/api/notifications/<id:notification_id>/deliveries")
def list_rule_deliveries(notification_id: int) -> Response:
    """One rule's delivery log, newest first."""
    service = current_stask().notifications
    query = parse_delivery_query(request.args, notification_id=service.get(notification_id).id)
    return ok(**page_dict(service.deliveries_page(query), service.delivery_dict))


@api_bp.get("/api/deliveries")
def list_deliveries() -> Response:
    """Every rule's deliveries, newest first (filters: notification_id, status, task_id, event)."""
    service = current_stask().notifications
    page = service.deliveries_page(parse_delivery_query(request.args))
    return ok(**page_dict(page, service.delivery_dict))


@api_bp.post("/api/deliveries/<id:delivery_id>/redeliver")
@require_write
def redeliver(delivery_id: int) -> Response:
    """Send a delivery again (a new notifier task); 202: it is queued, not yet sent."""
    service = current_stask().notifications
    delivery = service.redeliver(delivery_id)
    record("delivery.redeliver", f"delivery:{delivery_id}", {"notification": delivery.notification_id})
    return ok(202, delivery=service.delivery_dict(delivery))
