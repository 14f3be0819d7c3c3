"""Every SQL statement of the schedules, as functions of a session (none commits).

The firing path is two statements per due slot plus one per batch of due schedules: the
batch SELECT (on ``ix_s_schedules_due``: cost grows with the due schedules, never with all of
them), the task INSERT, and the guarded UPDATE that claims the slot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from ..models import StoredSchedule, Task
from .store import Session, _changed

SCHEDULES = cast(sa.Table, StoredSchedule.__table__)


def due(session: Session, now: datetime, limit: int) -> list[Any]:
    """Enabled schedules whose next slot is at or before ``now``, oldest slot first, with the
    status of each one's last task (for the overlap rule): one statement, ``limit`` rows at most."""
    query = (
        sa.select(*SCHEDULES.c, Task.status.label("last_status"))
        .outerjoin(Task, Task.id == SCHEDULES.c.last_task_id)
        .where(SCHEDULES.c.enabled == sa.true(), SCHEDULES.c.next_run_at <= now)
        .order_by(SCHEDULES.c.next_run_at, SCHEDULES.c.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


def claim(session: Session, schedule_id: int, slot: datetime, values: dict[str, Any]) -> bool:
    """Move a schedule past ``slot`` if it still waits for that slot: one guarded UPDATE.

    The row count decides who fired the slot: of any number of processes that read the same
    due slot, exactly one matches; the others change nothing (and roll their task back).
    """
    result = session.execute(
        sa.update(SCHEDULES)
        .where(SCHEDULES.c.id == schedule_id, SCHEDULES.c.next_run_at == slot)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def page(session: Session, identifier: str | None, limit: int, offset: int) -> tuple[list[StoredSchedule], int]:
    """A page of schedules by id and how many there are: two statements."""
    where = [StoredSchedule.identifier == identifier] if identifier else []
    rows = list(
        session.scalars(sa.select(StoredSchedule).where(*where).order_by(StoredSchedule.id).limit(limit).offset(offset))
    )
    total = int(session.scalar(sa.select(sa.func.count()).select_from(SCHEDULES).where(*where)) or 0)
    return rows, total


def of_worker(session: Session, identifier: str, source: str) -> list[StoredSchedule]:
    query = sa.select(StoredSchedule).where(StoredSchedule.identifier == identifier, StoredSchedule.source == source)
    return list(session.scalars(query.order_by(StoredSchedule.id)))


# -- panel reads -------------------------------------------------------------------------------
def recent_runs(session: Session, schedule_ids: list[int], per_schedule: int) -> list[Any]:
    """The newest ``per_schedule`` tasks of each schedule (id, schedule_id, status, times),
    newest first: one statement, whatever the number of schedules (a window over
    ``ix_s_tasks_schedule_id``)."""
    if not schedule_ids:
        return []
    rank = sa.func.row_number().over(partition_by=Task.schedule_id, order_by=Task.id.desc()).label("rank")
    inner = (
        sa.select(Task.id, Task.schedule_id, Task.status, Task.created_at, Task.scheduled_for, Task.finished_at, rank)
        .where(Task.schedule_id.in_(schedule_ids))
        .subquery()
    )
    query = sa.select(inner).where(inner.c.rank <= per_schedule).order_by(inner.c.schedule_id, inner.c.id.desc())
    return list(session.execute(query).all())


def first_of_each_worker(session: Session, per_worker: int) -> list[Any]:
    """Up to ``per_worker`` schedules of every worker (soonest next run first, paused last) and
    each worker's count: one statement for all the worker cards."""
    order = (
        sa.case((SCHEDULES.c.next_run_at.is_(None), 1), else_=0),
        SCHEDULES.c.next_run_at,
        SCHEDULES.c.id,
    )
    rank = sa.func.row_number().over(partition_by=SCHEDULES.c.identifier, order_by=order).label("rank")
    total = sa.func.count().over(partition_by=SCHEDULES.c.identifier).label("total")
    inner = sa.select(
        SCHEDULES.c.id,
        SCHEDULES.c.name,
        SCHEDULES.c.identifier,
        SCHEDULES.c.action,
        SCHEDULES.c.enabled,
        SCHEDULES.c.next_run_at,
        rank,
        total,
    ).subquery()
    query = sa.select(inner).where(inner.c.rank <= per_worker).order_by(inner.c.identifier, inner.c.rank)
    return list(session.execute(query).all())
