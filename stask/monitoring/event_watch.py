"""The notification events no task end reports: a task ``stuck`` in running, a schedule's
``schedule_missed`` slot. Judged by the same rules as their alerts, in the worker processes'
maintenance (one process at a time) and ``flask stask alerts``; each is told once per rule
(the attempt or the slot is part of the delivery's subject). The same pass rolls up the hours
that closed (:func:`maintain_rollups`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from ..models import StoredSchedule, utcnow
from .alerts import stuck_tasks
from .health import service_of
from .schedule_alerts import missed_slots

log = logging.getLogger("stask")


def watch_events(app: Flask, now: datetime | None = None) -> int:
    """Record the ``stuck`` and ``schedule_missed`` events rules listen to; returns how many
    notifier tasks it created. Costs one small statement (the newest rollup) when no rule listens
    to them and no hour closed."""
    now = now or utcnow()
    maintain_rollups(app, now)
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


def maintain_rollups(app: Flask, now: datetime | None = None) -> None:
    """Roll the hours that closed since the last pass (the maintenance pass calls this through
    :func:`watch_events`), so no page read has to. Errors are logged: figures then fall back to
    rolling on read."""
    from .metrics import roll_up

    session: Any = service_of(app).db.session
    try:
        roll_up(session, now)
    except SQLAlchemyError:
        session.rollback()
        log.warning("stask: rolling up closed hours failed; reads will roll them", exc_info=True)
