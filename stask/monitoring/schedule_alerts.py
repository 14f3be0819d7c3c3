"""The schedules' alert rules: a missed slot, and the last N runs failed.

``schedule_missed:<id>`` fires for an enabled schedule when

* its ``next_run_at`` is more than ``STASK_ALERT_SCHEDULE_GRACE_SECONDS`` (300) in the past:
  nobody fired the slot (no worker process runs the scheduler, ``flask stask process`` is not in
  cron, or every pass fails). The message says how late; ``value`` is the lateness in seconds.
* or its last slot was consumed **without a task** (``last_skipped_at`` after ``last_run_at``)
  for any reason but the overlap policy: the worker was deactivated or the action removed, the
  row became invalid, or ``misfire: skip`` dropped slots missed during a downtime. It clears
  when a later slot gets a task. An overlap skip (``overlap: skip`` while the last task is still
  queued or running) is the operator's choice and never alerts; nor do the slots that
  ``run_once`` and ``catch_up`` fold into a task (that slot has its task).

``schedule_failing:<id>`` fires for an enabled schedule whose last
``STASK_ALERT_SCHEDULE_FAILURES`` (3; 0 turns it off) tasks, by task id, all failed; it clears
with the next task that does not fail. Tasks created by "Run now" count: they are the schedule's
runs too.

Paused schedules raise nothing. Both rules cost at most three statements (see
:mod:`stask.service.schedule_health`), whatever the number of healthy schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..enums import Status
from ..service import schedule_health as health
from ..settings import Settings
from .alert_types import WARNING, Alert

#: Schedules named per evaluation and rule (the most late, or the lowest ids, first).
SCAN_LIMIT = 100
#: Characters of the last task's error quoted in a ``schedule_failing`` message.
ERROR_CHARS = 120


def _label(row: Any) -> str:
    return f"schedule {row.name!r} (#{row.id}, {row.identifier}.{row.action})"


def _late(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class MissedSlot:
    """A slot of an enabled schedule that got no task: the alert's and the event's subject."""

    row: Any
    #: The slot's time (an overdue ``next_run_at``, or the last skipped slot).
    at: datetime
    message: str
    #: Seconds late, for an overdue slot.
    late: float | None


def _missed(settings: Settings, session: Any, now: datetime, unwell: list[Any]) -> list[MissedSlot]:
    grace = settings.alert_schedule_grace_seconds
    slots = []
    for row in health.overdue(session, now - timedelta(seconds=grace), SCAN_LIMIT):
        late = round((now - row.next_run_at).total_seconds(), 1)
        message = (
            f"{_label(row)} missed its slot of {row.next_run_at:%Y-%m-%d %H:%M:%S} UTC: "
            f"no task {_late(late)} later (grace {grace} s)"
        )
        slots.append(MissedSlot(row, row.next_run_at, message, late))
    overdue = {slot.row.id for slot in slots}
    for row in unwell:
        skipped = row.last_skipped_at is not None and (row.last_run_at is None or row.last_skipped_at > row.last_run_at)
        if row.id in overdue or not skipped:  # the query left out the overlap policy's skips
            continue
        message = (
            f"{_label(row)} had a slot without a task at {row.last_skipped_at:%Y-%m-%d %H:%M:%S} UTC: "
            f"{row.last_skip_reason}"
        )
        slots.append(MissedSlot(row, row.last_skipped_at, message, None))
    return slots


def missed_slots(settings: Settings, session: Any, now: datetime) -> list[MissedSlot]:
    """The slots ``schedule_missed`` is about now (the ``schedule_missed`` event's source)."""
    slots = _missed(settings, session, now, health.unwell(session, int(Status.FAILED), SCAN_LIMIT))
    session.commit()
    return slots


def schedule_rules(settings: Settings, session: Any, now: datetime) -> list[Alert]:
    """The firing ``schedule_missed`` and ``schedule_failing`` alerts."""
    grace = settings.alert_schedule_grace_seconds
    failures = settings.alert_schedule_failures
    unwell = health.unwell(session, int(Status.FAILED), SCAN_LIMIT)
    alerts = [
        Alert(
            f"schedule_missed:{slot.row.id}",
            "schedule_missed",
            WARNING,
            slot.message,
            slot.late,
            grace if slot.late is not None else None,
        )
        for slot in _missed(settings, session, now, unwell)
    ]
    failing = [row for row in unwell if row.last_status == int(Status.FAILED)]
    if failures >= 1 and failing:
        statuses = health.last_statuses(session, [row.id for row in failing], failures)
        for row in failing:
            if not health.all_failed(statuses.get(row.id, []), failures):
                continue
            error = (row.last_error or "").strip().splitlines()
            quoted = f": {error[-1][:ERROR_CHARS]}" if error else ""
            alerts.append(
                Alert(
                    f"schedule_failing:{row.id}",
                    "schedule_failing",
                    WARNING,
                    f"{_label(row)}: its last {failures} runs failed (the last, task {row.last_task_id}{quoted})",
                    failures,
                    failures,
                )
            )
    session.commit()
    return alerts
