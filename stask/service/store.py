"""Every SQL statement of the service, as functions of a session.

The engine's own two statements (claim and finish, precompiled) stay in
:mod:`stask.engine.runner`; the figures of :mod:`stask.monitoring` stay there. Everything
else that reads or writes rows is here, so its cost can be read in one place: each function
says how many statements it runs. No function commits; the service decides when.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import scoped_session

from ..enums import CLAIMABLE, FINAL, Priority, Status
from ..models import Task, Worker
from ..monitoring import counters
from .listing import SORTS, TaskPage, TaskQuery

#: A session or Flask-SQLAlchemy's scoped ``db.session`` (which proxies one).
Session = OrmSession | scoped_session[Any]
TASKS = cast(sa.Table, Task.__table__)
_CLAIMABLE = [int(s) for s in CLAIMABLE]
_FINAL = [int(s) for s in FINAL]
#: When a queued task became due: its ``start_at``, else its creation.
_DUE_SINCE = sa.func.coalesce(Task.start_at, Task.created_at)
#: The backlog counts due tasks up to this many per priority ("more than" beyond).
BACKLOG_CAP = 500


# -- inserting -------------------------------------------------------------------------------
def insert_tasks(session: Session, columns: list[dict[str, Any]]) -> list[int]:
    """INSERT rows; returns their ids in input order.

    One row: one INSERT. Many on PostgreSQL: the ids are drawn from the table's sequence
    first (one SELECT), then a plain executemany INSERT runs in psycopg's pipeline mode (4x
    faster than INSERT ... RETURNING over 10,000 rows). Elsewhere: an executemany with
    RETURNING, which SQLAlchemy's "insertmanyvalues" sends as one multi-row INSERT per batch
    from a statement compiled once; ids within one statement are assigned in row order and
    batches run in order, so sorting them restores the input order.
    """
    table = TASKS
    if len(columns) == 1:
        result = cast(sa.CursorResult[Any], session.execute(sa.insert(table).values(**columns[0])))
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        return [int(key[0])]
    if session.get_bind().dialect.name == "postgresql":
        ids = [
            int(i)
            for i in session.execute(
                sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(columns)},
            ).scalars()
        ]
        session.execute(
            sa.insert(table), [dict(values, id=task_id) for task_id, values in zip(ids, columns, strict=True)]
        )
        return ids
    return sorted(int(i) for i in session.execute(sa.insert(table).returning(table.c.id), columns).scalars())


# -- guarded changes (the row count says whether the row was in the expected state) ----------
def requeue_ended(session: Session, task_id: int, status: int, max_attempts: int, message: str, now: datetime) -> bool:
    """A failed or cancelled row back to queued (retry) with a new allowance: one guarded UPDATE.

    The retry is due ``now``: its wait, the backlog's age and reconcile's grace count from the
    retry, not from when the task was first created.
    """
    result = session.execute(
        sa.update(Task)
        .where(Task.id == task_id, Task.status == status)
        .values(
            status=int(Status.QUEUED),
            max_attempts=max_attempts,
            start_at=now,
            finished_at=None,
            progress=0,
            message=message,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def cancel_waiting(session: Session, task_id: int, now: datetime) -> bool:
    """A queued row to cancelled: one guarded UPDATE."""
    result = session.execute(
        sa.update(Task)
        .where(Task.id == task_id, Task.status.in_(_CLAIMABLE))
        .values(status=int(Status.CANCELLED), finished_at=now, message="Cancelled")
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def _changed(result: sa.Result[Any]) -> bool:
    """Whether a guarded UPDATE matched its row (DML results are cursor results)."""
    return bool(cast(sa.CursorResult[Any], result).rowcount)


# -- reading tasks ---------------------------------------------------------------------------
def counts_by_status(session: Session, identifier: str | None = None) -> dict[int, int]:
    """Tasks per status, for every task or one worker's: one statement over ``s_task_counts``
    (a few dozen rows kept exact by triggers), never a count over ``s_tasks``."""
    out: dict[int, int] = {}
    for (_identifier, status), count in counters.counts(session, identifier).items():
        out[status] = out.get(status, 0) + count
    return out


def worker_counts(session: Session) -> tuple[int, int]:
    """(registered, active) workers: one statement."""
    total, active = session.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((Worker.active.is_(True), 1), else_=0)))
    ).one()
    return int(total or 0), int(active or 0)


def failed_ids(session: Session, limit: int) -> list[int]:
    """The oldest ``limit`` failed task ids: one statement."""
    query = sa.select(Task.id).where(Task.status == int(Status.FAILED)).order_by(Task.id).limit(limit)
    return [int(i) for i in session.scalars(query)]


def failed_count(session: Session) -> int:
    """Failed tasks: one statement over ``s_task_counts``."""
    return counts_by_status(session).get(int(Status.FAILED), 0)


def recent_tasks(session: Session, limit: int) -> list[Task]:
    """The newest rows, detached: a later commit in the request must not reload each one."""
    tasks = list(session.scalars(sa.select(Task).order_by(Task.id.desc()).limit(limit)))
    for task in tasks:
        session.expunge(task)
    return tasks


def backlog(session: Session, now: datetime, cap: int = BACKLOG_CAP) -> dict[str, tuple[int, datetime | None]]:
    """Per priority: how many queued tasks are due (counted up to ``cap + 1``), and since when
    the oldest waits. One statement of three scalar subqueries per priority, each stopping early
    on an index: the count reads at most ``cap + 1`` rows, the oldest due row is the first of the
    (status, start_at) index for a scheduled one and the lowest id for an immediate one (ids follow
    creation order).

    A count above ``cap`` means "more than ``cap``" (the dashboard says so); exact counting
    would read every queued row, and a backlog of a million reads a million.
    """
    due = sa.and_(
        Task.status.in_(_CLAIMABLE),
        Task.waiting_parents == 0,
        sa.or_(Task.start_at.is_(None), Task.start_at <= now),
    )
    columns: list[Any] = []
    for priority in Priority:
        mine = sa.and_(due, Task.priority == priority.value)
        capped = sa.select(Task.id).where(mine).limit(cap + 1).subquery(f"due_{priority.value}")
        columns += [
            sa.select(sa.func.count()).select_from(capped).scalar_subquery(),
            sa.select(Task.start_at)
            .where(mine, Task.start_at.is_not(None))
            .order_by(Task.start_at)
            .limit(1)
            .scalar_subquery(),
            sa.select(Task.created_at)
            .where(mine, Task.start_at.is_(None))
            .order_by(Task.id)
            .limit(1)
            .scalar_subquery(),
        ]
    row = session.execute(sa.select(*columns)).one()
    out: dict[str, tuple[int, datetime | None]] = {}
    for index, priority in enumerate(Priority):
        count, scheduled, immediate = row[3 * index : 3 * index + 3]
        if count:
            found = [moment for moment in (scheduled, immediate) if moment is not None]
            out[priority.value] = (int(count), min(found) if found else None)
    return out


def due_tasks(session: Session, now: datetime, limit: int | None) -> list[Task]:
    """Queued tasks that are due, highest priority first (the cron path): one statement."""
    rank = sa.case({p.value: p.rank for p in Priority}, value=Task.priority, else_=9)
    query = (
        sa.select(Task)
        .where(Task.status.in_(_CLAIMABLE), Task.waiting_parents == 0)
        .where(sa.or_(Task.start_at.is_(None), Task.start_at <= now))
        .order_by(rank, Task.id)
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def waiting_attempts(session: Session, due_before: datetime, limit: int = 50_000) -> list[tuple[int, int]]:
    """(id, attempts) of queued tasks due before ``due_before`` (not those waiting on parents).

    Two columns, not whole rows: with a backlog this scan covers every queued task, and
    50,000 ORM objects every reconcile interval cost a worker megabytes it keeps.
    """
    rows = session.execute(
        sa.select(Task.id, Task.attempts)
        .where(Task.status.in_(_CLAIMABLE), Task.waiting_parents == 0, _DUE_SINCE <= due_before)
        .order_by(Task.id)
        .limit(limit)
    ).all()
    return [(int(row.id), int(row.attempts)) for row in rows]


def waiting_rows(session: Session, ids: Sequence[int], chunk: int = 1000) -> list[Task]:
    """The rows of ``ids`` that are still queued, in chunks of ``chunk`` ids per statement."""
    rows: list[Task] = []
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        query = sa.select(Task).where(Task.id.in_(part), Task.status.in_(_CLAIMABLE)).order_by(Task.id)
        rows.extend(session.scalars(query))
    return rows


def running_since(session: Session, started_before: datetime) -> list[Task]:
    """Running rows that started before ``started_before`` (heartbeat candidates): one statement."""
    query = sa.select(Task).where(Task.status == int(Status.RUNNING), Task.started_at <= started_before)
    return list(session.scalars(query))


def task_page(session: Session, query: TaskQuery, cap: int) -> TaskPage:
    """Two statements: the page of rows and the count over at most ``cap + 1`` matching rows.

    The rows are detached from the session, so a later commit elsewhere in the request
    cannot expire them (which would reload each one: a statement per row).
    """
    where = _conditions(query)
    column = SORTS[query.sort]
    direction = sa.desc if query.order == "desc" else sa.asc
    ordering = [direction(column)] if query.sort == "id" else [direction(column), direction(Task.id)]
    statement = sa.select(Task).where(*where).order_by(*ordering).limit(query.per_page).offset(query.offset)
    items = list(session.scalars(statement))
    if query.page == 1 and len(items) < query.per_page:
        counted = len(items)  # the whole result is on this page: no count needed
    else:
        inner = sa.select(Task.id).where(*where).limit(cap + 1).subquery()
        counted = int(session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)
    for item in items:
        session.expunge(item)
    return TaskPage(
        items=items, total=min(counted, cap), total_capped=counted > cap, page=query.page, per_page=query.per_page
    )


def _conditions(query: TaskQuery) -> list[Any]:
    where: list[Any] = []
    if query.statuses:
        where.append(Task.status.in_(query.statuses))
    if query.identifier:
        where.append(Task.identifier == query.identifier)
    if query.action:
        where.append(Task.action == query.action)
    if query.priority:
        where.append(Task.priority == query.priority)
    if query.created_from:
        where.append(Task.created_at >= query.created_from)
    if query.created_to_exclusive:
        where.append(Task.created_at < query.created_to_exclusive)
    elif query.created_to:
        where.append(Task.created_at <= query.created_to)
    if query.schedule_id:
        where.append(Task.schedule_id == query.schedule_id)
    if query.group_id:
        where.append(Task.group_id == query.group_id)
    if query.q:
        where.append(_search(query.q))
    return where


def _search(text: str) -> Any:
    """Case-insensitive LIKE on the message and on the JSON data as text.

    JSON is stored with non-ASCII escaped (``\\u0443``), so the escaped spelling is searched too.
    """
    candidates = {text, json.dumps(text)[1:-1]}
    data_text = sa.cast(Task.data, sa.Text)
    clauses = []
    for candidate in candidates:
        clauses.append(Task.message.icontains(candidate, autoescape=True))
        clauses.append(data_text.icontains(candidate, autoescape=True))
    return sa.or_(*clauses)


# -- deleting ----------------------------------------------------------------------------------
def ended_before(cutoff: datetime) -> Any:
    """Condition: ended (finished, cancelled, failed) before ``cutoff``."""
    return sa.and_(Task.status.in_(_FINAL), sa.func.coalesce(Task.finished_at, Task.created_at) < cutoff)


def count_where(session: Session, condition: Any) -> int:
    return int(session.scalar(sa.select(sa.func.count()).where(condition)) or 0)


def ids_where(session: Session, condition: Any, limit: int) -> list[int]:
    return [int(i) for i in session.scalars(sa.select(Task.id).where(condition).order_by(Task.id).limit(limit))]


def existing_ids(session: Session, ids: Sequence[int], chunk: int = 1000) -> set[int]:
    """Which of ``ids`` have a row: one statement per ``chunk`` ids."""
    found: set[int] = set()
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        found.update(int(i) for i in session.scalars(sa.select(Task.id).where(Task.id.in_(part))))
    return found


def delete_ids(session: Session, ids: Sequence[int]) -> None:
    session.execute(sa.delete(Task).where(Task.id.in_(list(ids))).execution_options(synchronize_session=False))


# -- workers -----------------------------------------------------------------------------------
def worker_definition_row(session: Session, identifier: str) -> Any:
    """The columns a :class:`WorkerDefinition` needs, or None: one statement."""
    return session.execute(
        sa.select(Worker.identifier, Worker.class_path, Worker.active, Worker.settings).where(
            Worker.identifier == identifier
        )
    ).first()


def workers(session: Session, active_only: bool = False) -> list[Worker]:
    query = sa.select(Worker).order_by(Worker.position, Worker.identifier)
    if active_only:
        query = query.where(Worker.active.is_(True))
    return list(session.scalars(query))


def worker(session: Session, identifier: str) -> Worker | None:
    return session.scalar(sa.select(Worker).where(Worker.identifier == identifier))


def task_counts_by_worker(session: Session) -> list[tuple[str, int, int, datetime | None]]:
    """(identifier, status, count, last start) for every worker and status: one grouped statement.

    Still a scan of ``s_tasks`` (the last start per worker has no index to walk); the workers
    page is the one caller, the dashboard and the metrics read ``s_task_counts``.
    """
    rows = session.execute(
        sa.select(Task.identifier, Task.status, sa.func.count(), sa.func.max(Task.started_at)).group_by(
            Task.identifier, Task.status
        )
    ).all()
    return [(str(identifier), int(status), int(count), started) for identifier, status, count, started in rows]
