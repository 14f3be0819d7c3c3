"""The notification events no task end reports: a task ``stuck`` in running, a schedule's
``schedule_missed`` slot. Judged by the same rules as their alerts, in the worker processes'
maintenance (one process at a time) and ``flask stask alerts``; each is told once per rule
(the attempt or the slot is part of the delivery's subject)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask

from ..models import StoredSchedule, utcnow
from .alerts import stuck_tasks
from .health import service_of
from .schedule_alerts import missed_slots

log = logging.getLogger("stask")


def watch_events(app: Flask, now: datetime | None = None) -> int:
    """Record the ``stuck`` and ``schedule_missed`` events rules listen to; returns how many
    notifier tasks it created. Costs nothing (no statement) when no rule listens to them."""
    now = now or utcnow()
    service = service_of(app)
    deliveries = service.deliveries
    session = service.db.session
    payloads: list[dict[str, Any]] = []
    if deliveries.listening("stuck"):
        for row in stuck_tasks(service, session, now):
            subject = f"task:{row.id}:attempt:{row.attempts}:stuck"
            payloads += deliveries.record(int(row.id), "stuck", subject, now)
        session.commit()
    if deliveries.listening("schedule_missed"):
        for slot in missed_slots(service.settings, session, now):
            schedule = session.get(StoredSchedule, slot.row.id)
            if schedule is None:
                continue
            payloads += deliveries.record_event(
                "schedule_missed",
                f"schedule:{schedule.id}:{slot.at.isoformat()}",
                {"task": None, "schedule": schedule.to_dict()},
                now,
                identifier=schedule.identifier,
                action=schedule.action,
                schedule_id=schedule.id,
            )
        session.commit()
    deliveries.dispatch(payloads, now)
    return len(payloads)
