"""Every SQL statement of workflows (dependencies, groups), as functions of a session.

Like :mod:`.store`: no function commits, each says how many statements it runs. The
statements on the path that records a task's end are guarded: their row counts decide who
releases a dependent and who ends a group, whatever the number of processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from ..enums import CLAIMABLE, FINAL, Priority, Status
from ..models import Task, TaskDependency, TaskGroup
from .store import Session

TASKS = cast(sa.Table, Task.__table__)
EDGES = cast(sa.Table, TaskDependency.__table__)
GROUPS = cast(sa.Table, TaskGroup.__table__)
_CLAIMABLE = [int(s) for s in CLAIMABLE]
_FINAL = [int(s) for s in FINAL]
#: How often a release retries when another process moved the counter between its two forms.
RELEASE_TRIES = 100


def _rowcount(result: Any) -> int:
    return int(cast(sa.CursorResult[Any], result).rowcount)


# -- creating dependents ---------------------------------------------------------------------
def lock_parents(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """Mark ``ids`` as followed up and read their statuses, locked: two statements.

    The UPDATE comes first: it takes the rows' locks (a parent finishing now waits, then finds
    the flag and follows its end up) and the locking read that follows sees the latest status
    on every database (MariaDB's plain SELECT would read the transaction's older snapshot).
    """
    session.execute(sa.update(TASKS).where(TASKS.c.id.in_(list(ids))).values(follow_up=True))
    rows = session.execute(
        sa.select(TASKS.c.id, TASKS.c.status).where(TASKS.c.id.in_(list(ids))).with_for_update()
    ).all()
    return {int(row.id): int(row.status) for row in rows}


def insert_edges(session: Session, edges: Sequence[tuple[int, int]]) -> None:
    """(parent, child) pairs: one executemany INSERT."""
    if edges:
        session.execute(sa.insert(EDGES), [{"parent_id": p, "child_id": c} for p, c in edges])


# -- following up an end ---------------------------------------------------------------------
def groups_of(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """{task id: group id} of the ``ids`` in a group: one statement."""
    rows = session.execute(
        sa.select(TASKS.c.id, TASKS.c.group_id).where(TASKS.c.id.in_(list(ids)), TASKS.c.group_id.is_not(None))
    ).all()
    return {int(row.id): int(row.group_id) for row in rows}


def waiting_children(session: Session, parent_ids: Sequence[int]) -> list[Any]:
    """(child id, parent id, waiting_parents, on_parent_failure) of waiting children: one statement."""
    return list(
        session.execute(
            sa.select(EDGES.c.child_id, EDGES.c.parent_id, TASKS.c.waiting_parents, TASKS.c.on_parent_failure)
            .join(TASKS, TASKS.c.id == EDGES.c.child_id)
            .where(
                EDGES.c.parent_id.in_(list(parent_ids)),
                TASKS.c.status == int(Status.QUEUED),
                TASKS.c.waiting_parents > 0,
            )
            .order_by(EDGES.c.child_id)
        ).all()
    )


def count_down(session: Session, child_id: int, ended: int, hint: int, now: datetime) -> bool | None:
    """Take ``ended`` parents off a child's counter; True when this call brought it to 0.

    Releasing also makes the child due from ``now`` (its ``start_at``, unless that is later):
    its wait time, the backlog's age and reconcile's grace count from the release, so reconcile
    never re-enqueues a child between the commit that released it and its enqueue.

    Either form is one guarded UPDATE: ``waiting_parents = ended`` (the last parents: this
    transaction releases the child, and only one can) or ``waiting_parents > ended``. When
    another process moved the counter between the two, the loop tries again with the other
    form first. None: the child no longer waits (cancelled or deleted meanwhile). Usually one
    statement (``hint`` is the counter read just before).
    """
    last = sa.update(TASKS).where(
        TASKS.c.id == child_id, TASKS.c.status == int(Status.QUEUED), TASKS.c.waiting_parents == ended
    )
    earlier = sa.update(TASKS).where(
        TASKS.c.id == child_id, TASKS.c.status == int(Status.QUEUED), TASKS.c.waiting_parents > ended
    )
    due = sa.case((sa.or_(TASKS.c.start_at.is_(None), TASKS.c.start_at < now), now), else_=TASKS.c.start_at)
    forms = [
        (last.values(waiting_parents=0, start_at=due), True),
        (earlier.values(waiting_parents=TASKS.c.waiting_parents - ended), False),
    ]
    if hint != ended:
        forms.reverse()
    for _ in range(RELEASE_TRIES):
        for statement, releases in forms:
            if _rowcount(session.execute(statement)) == 1:
                return releases
        still = session.execute(
            sa.select(TASKS.c.waiting_parents)
            .where(TASKS.c.id == child_id, TASKS.c.status == int(Status.QUEUED))
            .with_for_update()  # a locking read: the latest value, not a snapshot's
        ).first()
        if still is None or int(still.waiting_parents) <= 0:
            return None
    raise RuntimeError(f"task {child_id}: its parents' counter kept moving; reconcile will look again")


def cancel_for_parent(session: Session, child_id: int, message: str, now: datetime) -> bool:
    """End a waiting child as cancelled because a parent failed: one guarded UPDATE."""
    result = session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id == child_id, TASKS.c.status == int(Status.QUEUED), TASKS.c.waiting_parents > 0)
        .values(status=int(Status.CANCELLED), finished_at=now, message=message[:1000])
    )
    return _rowcount(result) == 1


def task_rows(session: Session, ids: Sequence[int]) -> list[Task]:
    """Transient (session-free) copies of rows, for job payloads built before a commit: one statement."""
    if not ids:
        return []
    rows = session.execute(sa.select(TASKS).where(TASKS.c.id.in_(list(ids))).order_by(TASKS.c.id)).all()
    return [Task(**dict(row._mapping)) for row in rows]


def parents_of(session: Session, child_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Each child's parents (id, identifier, action, status, result, message), in id order: one statement."""
    found: dict[int, list[Any]] = {}
    if not child_ids:
        return found
    rows = session.execute(
        sa.select(
            EDGES.c.child_id,
            TASKS.c.id,
            TASKS.c.identifier,
            TASKS.c.action,
            TASKS.c.status,
            TASKS.c.result,
            TASKS.c.message,
        )
        .join(TASKS, TASKS.c.id == EDGES.c.parent_id)
        .where(EDGES.c.child_id.in_(list(child_ids)))
        .order_by(EDGES.c.child_id, TASKS.c.id)
    ).all()
    for row in rows:
        found.setdefault(int(row.child_id), []).append(row)
    return found


def child_ids(session: Session, parent_id: int) -> list[int]:
    return [int(i) for i in session.scalars(sa.select(EDGES.c.child_id).where(EDGES.c.parent_id == parent_id))]


def unfinished_parent_ids(session: Session, child_id: int) -> list[int]:
    """The parents of ``child_id`` that have not ended: one statement."""
    return [
        int(i)
        for i in session.scalars(
            sa.select(TASKS.c.id)
            .join(EDGES, EDGES.c.parent_id == TASKS.c.id)
            .where(EDGES.c.child_id == child_id, TASKS.c.status.not_in(_FINAL))
            .order_by(TASKS.c.id)
        )
    ]


def set_waiting(session: Session, task_id: int, count: int) -> None:
    session.execute(sa.update(TASKS).where(TASKS.c.id == task_id).values(waiting_parents=count))


# -- groups ----------------------------------------------------------------------------------
def insert_group(session: Session, values: dict[str, Any]) -> int:
    result = cast(sa.CursorResult[Any], session.execute(sa.insert(GROUPS).values(**values)))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def members_ended(session: Session, group_id: int, ended: int, failed: int, cancelled: int) -> None:
    """Count members' ends on the group row: one UPDATE (its row lock orders the processes)."""
    session.execute(
        sa.update(GROUPS)
        .where(GROUPS.c.id == group_id)
        .values(
            unfinished=GROUPS.c.unfinished - ended,
            failed=GROUPS.c.failed + failed,
            cancelled=GROUPS.c.cancelled + cancelled,
        )
    )


def end_group(session: Session, group_id: int, now: datetime) -> bool:
    """End a running group whose last member ended: one guarded UPDATE; True for the one caller that did.

    Its status: failed if a member failed, else cancelled if one was cancelled, else finished.
    """
    status = sa.case(
        (GROUPS.c.failed > 0, "failed"),
        (GROUPS.c.cancelled > 0, "cancelled"),
        else_="finished",
    )
    result = session.execute(
        sa.update(GROUPS)
        .where(GROUPS.c.id == group_id, GROUPS.c.status == "running", GROUPS.c.unfinished == 0)
        .values(status=status, ended_at=now)
    )
    return _rowcount(result) == 1


def group_row(session: Session, group_id: int) -> TaskGroup | None:
    return session.get(TaskGroup, group_id)


def set_callback(session: Session, group_id: int, column: str, task_id: int) -> None:
    session.execute(sa.update(GROUPS).where(GROUPS.c.id == group_id).values({column: task_id}))


def reopen_group(session: Session, group_id: int, failed: int, cancelled: int) -> None:
    """Members retried: they count as unfinished again and the group runs again: one UPDATE."""
    session.execute(
        sa.update(GROUPS)
        .where(GROUPS.c.id == group_id)
        .values(
            unfinished=GROUPS.c.unfinished + failed + cancelled,
            failed=GROUPS.c.failed - failed,
            cancelled=GROUPS.c.cancelled - cancelled,
            status="running",
            ended_at=None,
        )
    )


def group_counts(session: Session, group_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    """Members by status for each group: one grouped statement (on the group_id index)."""
    found: dict[int, dict[int, int]] = {gid: {} for gid in group_ids}
    if not group_ids:
        return found
    rows = session.execute(
        sa.select(TASKS.c.group_id, TASKS.c.status, sa.func.count())
        .where(TASKS.c.group_id.in_(list(group_ids)))
        .group_by(TASKS.c.group_id, TASKS.c.status)
    ).all()
    for gid, status, count in rows:
        found[int(gid)][int(status)] = int(count)
    return found


def member_ids(session: Session, group_id: int, statuses: Sequence[int] | None = None) -> list[int]:
    query = sa.select(TASKS.c.id).where(TASKS.c.group_id == group_id).order_by(TASKS.c.id)
    if statuses is not None:
        query = query.where(TASKS.c.status.in_(list(statuses)))
    return [int(i) for i in session.scalars(query)]


def running_member_progress(session: Session, group_id: int) -> list[tuple[int, int]]:
    """(id, stored progress) of running members (their live progress is in Redis): one statement."""
    rows = session.execute(
        sa.select(TASKS.c.id, TASKS.c.progress).where(
            TASKS.c.group_id == group_id, TASKS.c.status == int(Status.RUNNING)
        )
    ).all()
    return [(int(row.id), int(row.progress or 0)) for row in rows]


def group_page(session: Session, limit: int, offset: int) -> tuple[list[TaskGroup], int]:
    """Groups newest first, and how many there are: two statements."""
    groups = list(session.scalars(sa.select(TaskGroup).order_by(TaskGroup.id.desc()).limit(limit).offset(offset)))
    total = int(session.scalar(sa.select(sa.func.count()).select_from(GROUPS)) or 0)
    for group in groups:
        session.expunge(group)
    return groups, total


# -- why is it not running -------------------------------------------------------------------
def ahead_in_queue(session: Session, task: Task, now: datetime) -> int:
    """Due, released queued tasks that a worker takes before ``task``: one COUNT.

    Workers serve the queues in priority order, each queue oldest first; retries go to the
    front of theirs, which this count (by id) does not try to model.
    """
    rank = Priority.parse(task.priority).rank
    higher = [p.value for p in Priority if p.rank < rank]
    before = sa.or_(
        TASKS.c.priority.in_(higher) if higher else sa.false(),
        sa.and_(TASKS.c.priority == task.priority, TASKS.c.id < task.id),
    )
    query = sa.select(sa.func.count()).where(
        TASKS.c.status.in_(_CLAIMABLE),
        TASKS.c.waiting_parents == 0,
        sa.or_(TASKS.c.start_at.is_(None), TASKS.c.start_at <= now),
        before,
    )
    return int(session.scalar(query) or 0)


# -- the panel's reads -------------------------------------------------------------------------
def relatives(session: Session, task_id: int, side: str, limit: int) -> tuple[list[Any], int]:
    """A task's parents (``side="parents"``) or children, lowest ids first, at most ``limit``, and
    how many there are in all: one statement (a window count)."""
    mine, theirs = (EDGES.c.child_id, EDGES.c.parent_id) if side == "parents" else (EDGES.c.parent_id, EDGES.c.child_id)
    rows = session.execute(
        sa.select(
            theirs.label("id"),
            TASKS.c.identifier,
            TASKS.c.action,
            TASKS.c.status,
            sa.func.count().over().label("total"),
        )
        .select_from(EDGES)
        .outerjoin(TASKS, TASKS.c.id == theirs)
        .where(mine == task_id)
        .order_by(theirs)
        .limit(limit)
    ).all()
    return list(rows), int(rows[0].total) if rows else 0
