"""Read queries that judge the schedules, for the alerts and the Prometheus exposition (none commits).

Costs, for 10,000 schedules of which a few are unwell:

* :func:`overdue`: one statement on the index ``(enabled, next_run_at)``: a range read of the
  enabled schedules whose slot is older than the grace; healthy schedules are outside the range.
* :func:`unwell`: one statement over ``s_schedules`` (no index covers ``last_skipped_at``: the
  table is narrow, a scan of 10,000 rows takes milliseconds), each row joined to its last task
  by primary key. It returns only the schedules whose last slot went without a task or whose
  last task failed, at most ``limit``.
* :func:`last_statuses`: one statement, ``n`` rows per schedule asked about at most: one
  ``... WHERE schedule_id = ? ORDER BY id DESC LIMIT n`` per schedule, joined by UNION ALL.
* :func:`figures`: one statement, one row per schedule up to ``limit`` (lowest ids first).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from ..enums import Status
from ..models import Task
from .schedule_store import SCHEDULES
from .store import Session

_TASKS = cast(sa.Table, Task.__table__)

#: What the firing path writes in ``last_skip_reason`` when the overlap policy held a slot back
#: (``slot … UTC skipped: task 12 is still running``): the operator's choice, not a miss.
OVERLAP_REASON = "% skipped: task % is still %"


def overdue(session: Session, before: datetime, limit: int) -> list[Any]:
    """Enabled schedules whose next slot is older than ``before`` (nobody fired it), most late first."""
    query = (
        sa.select(SCHEDULES.c.id, SCHEDULES.c.name, SCHEDULES.c.identifier, SCHEDULES.c.action, SCHEDULES.c.next_run_at)
        .where(SCHEDULES.c.enabled == sa.true(), SCHEDULES.c.next_run_at < before)
        .order_by(SCHEDULES.c.next_run_at, SCHEDULES.c.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


def unwell(session: Session, failed_status: int, limit: int) -> list[Any]:
    """Enabled schedules whose last slot was consumed without a task for a reason other than the
    overlap policy (``last_skipped_at`` after ``last_run_at``), or whose last task ended with
    ``failed_status``; with that task's status and error."""
    skipped = sa.and_(
        SCHEDULES.c.last_skipped_at.is_not(None),
        sa.or_(SCHEDULES.c.last_run_at.is_(None), SCHEDULES.c.last_skipped_at > SCHEDULES.c.last_run_at),
        sa.not_(sa.func.coalesce(SCHEDULES.c.last_skip_reason, "").like(OVERLAP_REASON)),
    )
    query = (
        sa.select(
            SCHEDULES.c.id,
            SCHEDULES.c.name,
            SCHEDULES.c.identifier,
            SCHEDULES.c.action,
            SCHEDULES.c.last_task_id,
            SCHEDULES.c.last_run_at,
            SCHEDULES.c.last_skipped_at,
            SCHEDULES.c.last_skip_reason,
            _TASKS.c.status.label("last_status"),
            _TASKS.c.error.label("last_error"),
        )
        .outerjoin(_TASKS, _TASKS.c.id == SCHEDULES.c.last_task_id)
        .where(SCHEDULES.c.enabled == sa.true(), sa.or_(skipped, _TASKS.c.status == failed_status))
        .order_by(SCHEDULES.c.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


def last_statuses(session: Session, schedule_ids: Sequence[int], n: int) -> dict[int, list[int]]:
    """The statuses of each schedule's last ``n`` tasks, newest first (by task id): one statement."""
    if not schedule_ids or n < 1:
        return {}
    parts = [
        sa.select(_TASKS.c.schedule_id, _TASKS.c.id, _TASKS.c.status)
        .where(_TASKS.c.schedule_id == schedule_id)
        .order_by(_TASKS.c.id.desc())
        .limit(n)
        .subquery()
        .select()
        for schedule_id in schedule_ids
    ]
    union = sa.union_all(*parts) if len(parts) > 1 else parts[0]
    out: dict[int, list[tuple[int, int]]] = {int(i): [] for i in schedule_ids}
    for row in session.execute(union).all():
        out[int(row[0])].append((int(row[1]), int(row[2])))
    return {schedule_id: [status for _id, status in sorted(rows, reverse=True)] for schedule_id, rows in out.items()}


def all_failed(statuses: Sequence[int], n: int) -> bool:
    """The "last N runs failed" rule: N runs at least, and every one of them failed."""
    return n >= 1 and len(statuses) >= n and all(status == int(Status.FAILED) for status in statuses[:n])


def figures(session: Session, limit: int) -> list[Any]:
    """Every schedule (up to ``limit``, lowest ids first) with its last task's status: one statement."""
    query = (
        sa.select(
            SCHEDULES.c.id,
            SCHEDULES.c.name,
            SCHEDULES.c.identifier,
            SCHEDULES.c.action,
            SCHEDULES.c.enabled,
            SCHEDULES.c.next_run_at,
            SCHEDULES.c.last_run_at,
            _TASKS.c.status.label("last_status"),
        )
        .outerjoin(_TASKS, _TASKS.c.id == SCHEDULES.c.last_task_id)
        .order_by(SCHEDULES.c.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


def count_by_state(session: Session) -> dict[bool, int]:
    """How many schedules are enabled and paused: one grouped COUNT (used when :func:`figures` is cut)."""
    query = sa.select(SCHEDULES.c.enabled, sa.func.count()).group_by(SCHEDULES.c.enabled)
    return {bool(enabled): int(count) for enabled, count in session.execute(query).all()}
