"""The durable records: ``s_tasks`` (one row per task), ``s_workers`` (one per plugin),
``s_audit`` (one per state change made by a person or a token), ``s_schedules``,
``s_presets``, the workflow tables, ``s_notifications`` and ``s_deliveries``.

Models use their own declarative base so they work with stask's own Flask-SQLAlchemy
instance or a host application's. Query helpers return ``Select`` objects
(``db.session.scalars(Task.failed()).all()``), never run anything themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from . import search_index
from .enums import CLAIMABLE, INCOMPLETE, Priority, Status

#: MariaDB's DATETIME drops fractions unless asked; run and wait times need milliseconds.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> datetime:
    """Naive UTC: the one timestamp form that means the same on all three databases."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


#: A queued task due later than this reads "scheduled": RQ keeps scheduled times in whole
#: seconds, so a task due within a second is as good as due now.
SCHEDULED_MARGIN = timedelta(seconds=1)


class Base(DeclarativeBase):
    pass


#: Table options of every table whose ids are shown or referred to (links, logs, webhooks, audit
#: targets): on SQLite, ``AUTOINCREMENT`` keeps a deleted row's id from being given to the next
#: row (without it SQLite reuses the highest id once that row is deleted). PostgreSQL sequences
#: and MariaDB's InnoDB counter (persistent since 10.2.4) never reuse one. Migration 0010.
NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


#: The task list's other filters, after ``id`` in its status indexes (migration 0012).
LIST_FILTERS = ("action", "priority", "created_at")


class Task(Base):
    __tablename__ = "s_tasks"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    identifier: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int] = mapped_column(sa.SmallInteger, default=int(Status.QUEUED))
    priority: Mapped[str] = mapped_column(sa.String(8), default=Priority.NORMAL.value)
    progress: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    result: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, default=1)
    #: The attempts it was created with (``max_attempts`` then): a retry by hand grants this many
    #: more, while ``attempts`` keeps counting (the claim and RQ's job ids depend on it). Null only
    #: for a row written without it (not through ``create``): a retry then grants the worker's budget.
    attempt_budget: Mapped[int | None] = mapped_column(sa.Integer)
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    started_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    start_at: Mapped[datetime | None] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: Metrics written by the claim and finish statements (no extra SQL).
    wait_ms: Mapped[int | None] = mapped_column(sa.Integer)
    run_ms: Mapped[int | None] = mapped_column(sa.Integer)
    peak_memory_kb: Mapped[int | None] = mapped_column(sa.Integer)
    #: The schedule that created this task, and the slot it was created for (see ``StoredSchedule``).
    schedule_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    scheduled_for: Mapped[datetime | None] = mapped_column(Timestamp)
    #: Workflows (see ``docs/workflows.md``): the group it belongs to; what to do when a parent
    #: fails or is cancelled ("cancel" or "run"; null for a task without parents); how many of its
    #: parents have not ended yet (a queued task with a count above 0 is not handed to RQ); and
    #: whether its end must be followed up (it has dependents or a group): the finish statement of a
    #: task without it stays one UPDATE.
    group_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    on_parent_failure: Mapped[str | None] = mapped_column(sa.String(8))
    waiting_parents: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    follow_up: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    #: Created with ``notify=[...]``: rules of its own (``s_notifications.task_id``) follow its events.
    notify: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    __table_args__ = (
        sa.Index("ix_s_tasks_status_start_at", "status", "start_at"),
        # The task list (migration 0012): each filter or sort key followed by id, so a page is
        # read in order and stops after its rows, at any table size. After id (unique, so the
        # order is kept) the other filters ride along: combined, they are checked in the index.
        sa.Index("ix_s_tasks_status_id", "status", "id", *LIST_FILTERS),
        sa.Index("ix_s_tasks_identifier_status_id", "identifier", "status", "id", *LIST_FILTERS),
        sa.Index("ix_s_tasks_identifier_id", "identifier", "id"),
        sa.Index("ix_s_tasks_priority_id", "priority", "id"),
        sa.Index("ix_s_tasks_created_at_id", "created_at", "id"),
        sa.Index("ix_s_tasks_finished_at_id", "finished_at", "id"),
        sa.Index("ix_s_tasks_schedule_id", "schedule_id"),
        sa.Index("ix_s_tasks_group_id", "group_id"),
        # The stuck-task rule (migration 0013): running rows oldest first; only they are indexed
        # where the database can leave the others out (PostgreSQL, SQLite).
        sa.Index(
            "ix_s_tasks_running_started_at",
            "status",
            "started_at",
            postgresql_where=sa.text(f"status = {int(Status.RUNNING)}"),
            sqlite_where=sa.text(f"status = {int(Status.RUNNING)}"),
        ),
        NEVER_REUSED_IDS,
    )

    # -- query helpers (the scopes of the original) -------------------------------------
    @classmethod
    def with_status(cls, *statuses: Status) -> sa.Select[Any]:
        return sa.select(cls).where(cls.status.in_([int(s) for s in statuses])).order_by(cls.id)

    @classmethod
    def pending(cls) -> sa.Select[Any]:
        return cls.with_status(Status.QUEUED)

    @classmethod
    def preparing(cls) -> sa.Select[Any]:
        return cls.with_status(Status.PREPARING)

    @classmethod
    def running(cls) -> sa.Select[Any]:
        return cls.with_status(Status.RUNNING)

    @classmethod
    def finished(cls) -> sa.Select[Any]:
        return cls.with_status(Status.FINISHED)

    @classmethod
    def failed(cls) -> sa.Select[Any]:
        return cls.with_status(Status.FAILED)

    @classmethod
    def cancelled(cls) -> sa.Select[Any]:
        return cls.with_status(Status.CANCELLED)

    @classmethod
    def incomplete(cls) -> sa.Select[Any]:
        return cls.with_status(*INCOMPLETE)

    @classmethod
    def claimable(cls) -> sa.Select[Any]:
        return cls.with_status(*CLAIMABLE)

    @classmethod
    def with_priority(cls, priority: Priority | str) -> sa.Select[Any]:
        return sa.select(cls).where(cls.priority == Priority.parse(priority).value).order_by(cls.id)

    @classmethod
    def high_priority(cls) -> sa.Select[Any]:
        return cls.with_priority(Priority.HIGH)

    @classmethod
    def normal_priority(cls) -> sa.Select[Any]:
        return cls.with_priority(Priority.NORMAL)

    @classmethod
    def low_priority(cls) -> sa.Select[Any]:
        return cls.with_priority(Priority.LOW)

    # -- presentation ---------------------------------------------------------------------
    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def status_text(self) -> str:
        return self.status_enum.text

    @property
    def is_final(self) -> bool:
        return self.status_enum.is_final

    def due_in(self, now: datetime | None = None) -> float | None:
        """Seconds until a queued task is due, or None when it is not "scheduled".

        Presentation only (the status stays 10): a queued task whose ``start_at`` (its first
        run or its retry's) is more than :data:`SCHEDULED_MARGIN` away reads "scheduled", and
        the panel does not poll it before then.
        """
        if self.status != Status.QUEUED or self.start_at is None:
            return None
        left = self.start_at - (now or utcnow())
        return left.total_seconds() if left > SCHEDULED_MARGIN else None

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "id": self.id,
            "identifier": self.identifier,
            "action": self.action,
            "status": self.status,
            "status_text": self.status_text,
            "scheduled": self.due_in() is not None,
            "priority": self.priority,
            "progress": self.progress,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "data": self.data,
            "meta": self.meta,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "user_id": self.user_id,
            "started_by": self.started_by,
            "created_at": iso(self.created_at),
            "start_at": iso(self.start_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "wait_ms": self.wait_ms,
            "run_ms": self.run_ms,
            "peak_memory_kb": self.peak_memory_kb,
            "schedule_id": self.schedule_id,
            "scheduled_for": iso(self.scheduled_for),
            "group_id": self.group_id,
            "on_parent_failure": self.on_parent_failure,
            "waiting_parents": self.waiting_parents or 0,
        }

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.identifier}.{self.action} {self.status_text}>"


#: The text-search index (FTS5 on SQLite, FULLTEXT on MariaDB, trigrams on PostgreSQL) is built
#: with the table by create_all too; migration 0012 builds it for Alembic users.
sa.event.listen(Task.__table__, "after_create", search_index.create)


class Worker(Base):
    __tablename__ = "s_workers"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(sa.String(64), unique=True)
    class_path: Mapped[str] = mapped_column(sa.String(255))
    scope: Mapped[str] = mapped_column(sa.String(64), default="")
    title: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    icon: Mapped[str] = mapped_column(sa.String(64), default="")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    settings: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "class_path": self.class_path,
            "scope": self.scope,
            "title": self.title,
            "description": self.description,
            "icon": self.icon,
            "active": self.active,
            "position": self.position,
            "settings": self.settings or {},
        }

    def __repr__(self) -> str:
        return f"<Worker {self.identifier} {'active' if self.active else 'inactive'}>"


class AuditEntry(Base):
    """One state change made by a person or a token (``s_audit``): who, from where, what, on what.

    Kept apart from ``s_tasks`` with its own retention (``STASK_AUDIT_RETENTION_DAYS``): deleting
    old tasks never deletes the record of what was done to them. Never holds a secret: actors
    are labels (a session reference, a token's position), details hold names, never values.
    """

    __tablename__ = "s_audit"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    #: "admin" or "readonly"; None for an anonymous request (a failed login).
    actor_role: Mapped[str | None] = mapped_column(sa.String(16))
    #: How the actor was authenticated: session, token, host, cli, anonymous.
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    #: A non-secret label: "session:<ref>", "token:admin#2", "host", "cli:<user>", "anonymous".
    actor: Mapped[str] = mapped_column(sa.String(100))
    client: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    #: "task:42", "worker:csv_export", "tasks" (several), "cache:workers"; None for sign-in events.
    target: Mapped[str | None] = mapped_column(sa.String(100))
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.Index("ix_s_audit_created_at", "created_at"),
        sa.Index("ix_s_audit_action_created_at", "action", "created_at"),
        sa.Index("ix_s_audit_target_created_at", "target", "created_at"),
        sa.Index("ix_s_audit_actor_created_at", "actor", "created_at"),
        NEVER_REUSED_IDS,
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat() + "Z",
            "actor_role": self.actor_role,
            "actor_kind": self.actor_kind,
            "actor": self.actor,
            "client": self.client,
            "action": self.action,
            "target": self.target,
            "details": self.details or {},
        }

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target or ''} by {self.actor}>"


class StoredSchedule(Base):
    """A recurring task: a cron expression or a fixed interval, fired once per slot (``s_schedules``).

    Code declares schedules with :class:`stask.Schedule`; this is the row every schedule becomes.

    ``next_run_at`` is the next slot (naive UTC, no jitter); whoever fires a slot moves it
    forward with one guarded UPDATE (see :mod:`stask.service.schedules`).
    """

    __tablename__ = "s_schedules"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    identifier: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    priority: Mapped[str] = mapped_column(sa.String(8), default=Priority.NORMAL.value)
    cron: Mapped[str | None] = mapped_column(sa.String(120))
    interval: Mapped[int | None] = mapped_column(sa.Integer)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    start_date: Mapped[datetime | None] = mapped_column(Timestamp)
    end_date: Mapped[datetime | None] = mapped_column(Timestamp)
    misfire: Mapped[str] = mapped_column(sa.String(16), default="run_once")
    overlap: Mapped[str] = mapped_column(sa.String(16), default="skip")
    jitter: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: The preset it runs (a live reference: its worker, action, data and priority when a slot fires).
    preset_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Where interval slots are counted from (the start date, else the creation time).
    anchor: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_run_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: The last slot consumed without a task, and why (overlap, misfire, inactive worker, ...).
    last_skipped_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_skip_reason: Mapped[str | None] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(8), default="panel")
    created_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.Index("ix_s_schedules_due", "enabled", "next_run_at"),
        sa.Index("ix_s_schedules_identifier", "identifier"),
        sa.Index("ix_s_schedules_preset_id", "preset_id"),
        NEVER_REUSED_IDS,
    )

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "id": self.id,
            "name": self.name,
            "identifier": self.identifier,
            "action": self.action,
            "data": self.data or {},
            "priority": self.priority,
            "cron": self.cron,
            "interval": self.interval,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "misfire": self.misfire,
            "overlap": self.overlap,
            "jitter": self.jitter,
            "preset_id": self.preset_id,
            "start_date": iso(self.start_date),
            "end_date": iso(self.end_date),
            "next_run_at": iso(self.next_run_at),
            "last_run_at": iso(self.last_run_at),
            "last_task_id": self.last_task_id,
            "last_skipped_at": iso(self.last_skipped_at),
            "last_skip_reason": self.last_skip_reason,
            "source": self.source,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def __repr__(self) -> str:
        return f"<Schedule {self.id} {self.name!r} {self.cron or f'every {self.interval} s'}>"


class Preset(Base):
    """A named, saved run of a worker action: its data and priority (``s_presets``).

    Running one creates an ordinary task (see :mod:`stask.service.presets`); the preset keeps
    no link to the tasks it made. Names are unique per worker.
    """

    __tablename__ = "s_presets"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    identifier: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    priority: Mapped[str] = mapped_column(sa.String(8), default=Priority.NORMAL.value)
    created_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("identifier", "name", name="uq_s_presets_identifier_name"),
        NEVER_REUSED_IDS,
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "identifier": self.identifier,
            "action": self.action,
            "data": self.data or {},
            "priority": self.priority,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() + "Z",
            "updated_at": self.updated_at.isoformat() + "Z",
        }

    def __repr__(self) -> str:
        return f"<Preset {self.id} {self.name!r} {self.identifier}.{self.action}>"


class TaskDependency(Base):
    """One edge of a workflow: ``child_id`` waits for ``parent_id`` (``s_task_dependencies``).

    Parents always exist before their children (they are named by id at creation), so no cycle
    can be written. Edges stay when a task is deleted: they only tell who waited for whom.
    """

    __tablename__ = "s_task_dependencies"

    parent_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)

    __table_args__ = (sa.Index("ix_s_task_dependencies_child", "child_id", "parent_id"),)


class TaskGroup(Base):
    """A batch of tasks with one status and one progress bar (``s_groups``).

    ``unfinished``, ``failed`` and ``cancelled`` count its members; the path that records a
    member's end moves them with one UPDATE, and the guarded UPDATE that finds ``unfinished``
    at 0 ends the group and creates its ``on_complete`` or ``on_failure`` task, once.
    """

    __tablename__ = "s_groups"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    total: Mapped[int] = mapped_column(sa.Integer, default=0)
    unfinished: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    on_complete: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    on_failure: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    on_complete_task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    on_failure_task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (sa.Index("ix_s_groups_created_at", "created_at"), NEVER_REUSED_IDS)

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "total": self.total,
            "on_complete": self.on_complete,
            "on_failure": self.on_failure,
            "on_complete_task_id": self.on_complete_task_id,
            "on_failure_task_id": self.on_failure_task_id,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "ended_at": iso(self.ended_at),
        }

    def __repr__(self) -> str:
        return f"<TaskGroup {self.id} {self.name!r} {self.status}>"


class Notification(Base):
    """A notification rule (``s_notifications``): which task events to tell whom, and how.

    A rule matches a worker identifier and an action (``None``: any) and a list of events; its
    channel is ``email`` (``recipients``, optional subject and body templates, ``language``) or
    ``webhook`` (``url``, ``secret``, extra ``headers``, ``format`` json or slack). A rule with
    ``task_id`` was given to one task at creation (``notify=[...]``) and follows only that task.
    """

    __tablename__ = "s_notifications"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    identifier: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str | None] = mapped_column(sa.String(64))
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    channel: Mapped[str] = mapped_column(sa.String(8))
    recipients: Mapped[list[str] | None] = mapped_column(sa.JSON)
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    secret: Mapped[str | None] = mapped_column(sa.String(255))
    headers: Mapped[dict[str, str] | None] = mapped_column(sa.JSON)
    format: Mapped[str] = mapped_column(sa.String(8), default="json")
    subject_template: Mapped[str | None] = mapped_column(sa.Text)
    body_template: Mapped[str | None] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(16))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (sa.Index("ix_s_notifications_task_id", "task_id"), NEVER_REUSED_IDS)

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.name!r} {self.channel}>"


class Delivery(Base):
    """One event told by one rule (``s_deliveries``): what it reports and how its sending went.

    ``subject`` names what the event is about (``task:12``, ``task:12:attempt:2``, ``group:3``,
    ``schedule:5:<slot>``); the unique (rule, event, subject) key makes a second recording of
    the same event a no-op, however many processes see it. ``payload`` is the snapshot sent;
    ``job_task_id`` the notifier task that sends it (retries with backoff).
    """

    __tablename__ = "s_deliveries"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.BigInteger)
    event: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(100))
    task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    group_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    schedule_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    response_code: Mapped[int | None] = mapped_column(sa.Integer)
    response_excerpt: Mapped[str | None] = mapped_column(sa.String(500))
    error: Mapped[str | None] = mapped_column(sa.String(1000))
    job_task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        sa.UniqueConstraint("notification_id", "event", "subject", name="uq_s_deliveries_event"),
        sa.Index("ix_s_deliveries_created_at", "created_at"),
        sa.Index("ix_s_deliveries_task_id", "task_id"),
        NEVER_REUSED_IDS,
    )

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.event} {self.subject} {self.status}>"


class Trigger(Base):
    """An inbound hook: whoever holds its URL starts one worker action, or a preset (``s_triggers``).

    The token in the URL is never stored: only its SHA-256 (``token_hash``, what a call is looked
    up by) and its first characters (``token_prefix``, to tell triggers apart on a page). A signed
    trigger keeps its HMAC ``secret``, which verifying a call needs; no answer shows it again.
    ``identifier`` and ``action`` are the preset's when ``preset_id`` is set (kept in step by
    :class:`~stask.service.presets.PresetService`), as a schedule's are.
    """

    __tablename__ = "s_triggers"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    identifier: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    preset_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    token_prefix: Mapped[str] = mapped_column(sa.String(8))
    secret: Mapped[str | None] = mapped_column(sa.String(64))
    signed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: Calls accepted per minute (a fixed window in Redis); more are answered 429.
    rate_limit: Mapped[int] = mapped_column(sa.Integer)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(191))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_called_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: Calls recorded in ``s_trigger_calls`` (accepted or refused), throttled ones aside.
    calls: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_s_triggers_name"),
        sa.UniqueConstraint("token_hash", name="uq_s_triggers_token_hash"),
        sa.Index("ix_s_triggers_preset_id", "preset_id"),
        NEVER_REUSED_IDS,
    )

    def to_dict(self) -> dict[str, Any]:
        """What any answer may show: never the token, its hash or the secret."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "id": self.id,
            "name": self.name,
            "identifier": self.identifier,
            "action": self.action,
            "preset_id": self.preset_id,
            "token_prefix": self.token_prefix,
            "signed": bool(self.signed),
            "rate_limit": self.rate_limit,
            "enabled": bool(self.enabled),
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_called_at": iso(self.last_called_at),
            "calls": self.calls or 0,
        }

    def __repr__(self) -> str:
        return f"<Trigger {self.id} {self.name!r} {self.identifier}.{self.action}>"


class TriggerCall(Base):
    """One call of a trigger's URL and its answer (``s_trigger_calls``); the newest 100 of each
    trigger are kept. Throttled calls (429) are not written: a flood must not become rows."""

    __tablename__ = "s_trigger_calls"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    trigger_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("s_triggers.id", ondelete="CASCADE"))
    called_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    client: Mapped[str | None] = mapped_column(sa.String(100))
    #: The HTTP status the caller got (201, 400, 401, 409).
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    task_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (sa.Index("ix_s_trigger_calls_trigger_id", "trigger_id", "id"),)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger_id": self.trigger_id,
            "called_at": self.called_at.isoformat() + "Z",
            "client": self.client,
            "status": self.status,
            "task_id": self.task_id,
            "error": self.error,
        }

    def __repr__(self) -> str:
        return f"<TriggerCall {self.id} trigger {self.trigger_id} {self.status}>"
