"""Helpers of the rule tests (API, panel, CLI, a task's ``notify``): bodies, direct rows, counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import AuditEntry, Delivery, Notification, utcnow
from tests.support.api import ADMIN

EMAIL = {"name": "ops mail", "events": ["failed"], "channel": "email", "to": ["ops@example.com"]}
WEBHOOK = {
    "name": "ops hook",
    "identifier": "echo",
    "action": "say",
    "events": ["finished", "failed"],
    "channel": "webhook",
    "url": "https://hooks.example.com/stask",
    "secret": "s3cret-value",
    "headers": {"X-Team": "ops"},
}
#: Every field of the API's rule object (the contract, plus ``task_id``).
CONTRACT = {
    "id",
    "name",
    "identifier",
    "action",
    "events",
    "channel",
    "to",
    "url",
    "secret",
    "secret_set",
    "headers",
    "format",
    "enabled",
    "language",
    "subject",
    "body",
    "task_id",
    "created_by",
    "created_at",
    "updated_at",
}
DELIVERY_FIELDS = {
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
}


def create(api: FlaskClient, base: dict[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
    """POST a rule (the e-mail one unless told) and return the answer's body (201 asserted)."""
    response = api.post("/stask/api/notifications", json={**(base or EMAIL), **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        db = app.extensions["stask"].db
        number = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        db.session.remove()
    return int(number or 0)


def rule_row(app: Flask, rule_id: int) -> Notification:
    with app.app_context():
        db = app.extensions["stask"].db
        row = db.session.get(Notification, rule_id)
        assert row is not None
        db.session.expunge(row)
        db.session.remove()
    return row


def audit_actions(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        db = app.extensions["stask"].db
        rows = db.session.execute(sa.select(AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)).all()
        db.session.remove()
    return [(row.action, row.target) for row in rows]


def audit_details(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        db = app.extensions["stask"].db
        rows = list(db.session.scalars(sa.select(AuditEntry.details).order_by(AuditEntry.id)))
        db.session.remove()
    return [dict(row or {}) for row in rows]


def add_delivery(app: Flask, rule_id: int, *, minutes_ago: int = 0, **values: Any) -> int:
    """A delivery row written directly (what the notifier would record), ``minutes_ago`` old."""
    now = utcnow().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    task_id = values.pop("task_id", 7)
    row = {
        "notification_id": rule_id,
        "event": "failed",
        "subject": f"task:{task_id}:{rule_id}:{minutes_ago}",
        "task_id": task_id,
        "payload": {"event": "failed", "secret-ish": "not listed"},
        "status": "delivered",
        "attempts": 1,
        "response_code": 200,
        "response_excerpt": "ok",
        "created_at": now,
        "last_attempt_at": now,
        **values,
    }
    with app.app_context():
        db = app.extensions["stask"].db
        delivery = Delivery(**row)
        db.session.add(delivery)
        db.session.commit()
        delivery_id = delivery.id
        db.session.remove()
    return int(delivery_id)


def rules_version(app: Flask) -> bytes | None:
    """The Redis key every rule change moves (worker processes reload their rules when it does)."""
    runtime = app.extensions["stask.runtime"]
    value: bytes | None = runtime.redis.get(runtime.keys.notifications_version)
    return value


def task_rules(app: Flask, task_id: int, items: list[Any], created_by: str = "code") -> None:
    """Store a task's own rules as task creation does (parse, insert in a transaction, commit)."""
    with app.app_context():
        service = app.extensions["stask"].service.notifications
        service.insert_for_task(task_id, service.parse_task_notify(items), created_by)
        app.extensions["stask"].db.session.commit()
        app.extensions["stask"].db.session.remove()
