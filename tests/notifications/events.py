"""Helpers of the event and delivery tests: rules stored as the rules service would store them,
and reading the deliveries and notifier tasks back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from stask.models import Delivery, Notification, Task, utcnow


def add_rule(stask: Any, name: str = "rule", **fields: Any) -> Notification:
    """A shared rule (webhook unless told), committed; the process's rule cache reloads at once."""
    now = utcnow()
    values: dict[str, Any] = {
        "name": name,
        "identifier": None,
        "action": None,
        "events": ["finished", "failed"],
        "channel": "webhook",
        "format": "json",
        "enabled": True,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    rule = Notification(**values)
    session = stask.db.session
    session.add(rule)
    session.commit()
    stask.service.deliveries.rules_changed()
    return rule


def deliveries(stask: Any, **where: Any) -> list[Delivery]:
    session = stask.db.session
    session.commit()
    session.expire_all()
    rows = list(session.scalars(sa.select(Delivery).filter_by(**where).order_by(Delivery.id)))
    session.commit()
    return rows


def notifier_tasks(stask: Any) -> list[Task]:
    session = stask.db.session
    session.commit()
    rows = list(session.scalars(sa.select(Task).where(Task.identifier == "notifier").order_by(Task.id)))
    session.commit()
    return rows
