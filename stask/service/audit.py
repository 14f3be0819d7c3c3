"""The audit log (``s_audit``): every state change a person or a token made, and who made it.

Adapters (the API, the panel, the login page, the CLI) call :meth:`AuditLog.record` once the
change has happened; refused requests record nothing, except failed sign-ins. The row is
written in its own short transaction on its own connection, after the change committed:
the caller's session (and the ORM objects it holds) are left untouched, and a failure to
write the row is logged, never turned into an error for a change that already happened.

Nothing secret is stored: actors are labels (:class:`Actor`), details carry names and
counts, never passwords, tokens or setting values. Reading is :meth:`AuditLog.page` (the
task list's pagination and limits); :meth:`AuditLog.cleanup` applies the log's own
retention (``STASK_AUDIT_RETENTION_DAYS``), which task cleanup never touches.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..exceptions import InvalidInput, InvalidSetting
from ..models import AuditEntry, utcnow
from ..runtime import Runtime
from ..validation import parse_api_datetime
from .listing import COUNT_CAP, DATE_ONLY_RE, DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, _int_arg, _one

log = logging.getLogger("stask")
AUDIT = cast(sa.Table, AuditEntry.__table__)

#: Every action the log knows; a filter naming another is refused (400).
ACTIONS = (
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "task.create",
    "task.retry",
    "task.cancel",
    "task.stop",
    "task.delete",
    "task.bulk",
    "task.retry_failed",
    "task.upload",
    "task.cleanup",
    "worker.activate",
    "worker.deactivate",
    "worker.settings",
    "worker.discover",
    "worker.upload",
    "schedule.create",
    "schedule.update",
    "schedule.delete",
    "schedule.pause",
    "schedule.resume",
    "schedule.run",
    "cache.clear",
    "schedule.create",
    "schedule.update",
    "schedule.delete",
    "schedule.pause",
    "schedule.resume",
    "schedule.run",
    "preset.create",
    "preset.update",
    "preset.delete",
    "preset.run",
    "group.create",
    "group.cancel",
    "group.retry_failed",
    "trigger.create",
    "trigger.update",
    "trigger.rotate",
    "trigger.delete",
    "notification.create",
    "notification.update",
    "notification.delete",
    "notification.test",
    "delivery.redeliver",
)
ROLES = ("admin", "readonly")
#: How an actor was authenticated.
ACTOR_KINDS = ("session", "token", "host", "cli", "anonymous")
#: What an actor label and a target look like (filters are full-matched against these).
ACTOR_PATTERN = r"^[a-z]{1,16}(:[A-Za-z0-9_.#@-]{1,64})?$"
TARGET_PATTERN = r"^[a-z]{1,16}(:[A-Za-z0-9_.-]{1,64})?$"
_ACTOR_RE = re.compile(ACTOR_PATTERN)
_TARGET_RE = re.compile(TARGET_PATTERN)
#: Lists kept in ``details`` (bulk ids, ...) are cut to this many items.
MAX_DETAIL_ITEMS = 1000
FILTER_KEYS = ("action", "actor", "target", "since", "until")


@dataclass(frozen=True)
class Actor:
    """Who acted: role, how they were authenticated, a non-secret label, their address."""

    role: str | None
    kind: str
    label: str
    client: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    """A validated audit-list request (``GET /api/audit``, the panel's audit page)."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    raw: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def filtered(self) -> bool:
        return any(self.raw.get(key) for key in FILTER_KEYS)


@dataclass
class AuditPage:
    """One page of entries, newest first, in the task list's shape (``items``, ``total``, ...)."""

    items: list[AuditEntry]
    total: int
    total_capped: bool
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [entry.to_dict() for entry in self.items],
            "total": self.total,
            "total_capped": self.total_capped,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def parse_audit_query(args: Mapping[str, Any]) -> AuditQuery:
    """Validate the filters (``request.args`` or a dict); raises :class:`InvalidInput`."""
    raw = {key: _one(args, key) for key in (*FILTER_KEYS, "per_page")}
    action = raw["action"] or None
    if action and action not in ACTIONS:
        raise InvalidInput(f"unknown action {action[:40]!r}: use one of {', '.join(ACTIONS)}")
    actor = raw["actor"] or None
    if actor and not _ACTOR_RE.fullmatch(actor):
        raise InvalidInput(f"actor {actor[:70]!r} is not an actor label (e.g. session:1a2b3c4d5e6f, token:admin#1)")
    target = raw["target"] or None
    if target and not _TARGET_RE.fullmatch(target):
        raise InvalidInput(f"target {target[:70]!r} is not a target (e.g. task:42, worker:csv_export)")
    # The task list's rules for dates: a date or a date-time; a bare `until` date includes its whole
    # day; `since` after `until` matches nothing (no error: a JSON Schema cannot compare the two).
    since = parse_api_datetime(raw["since"] or None, "since", date_only=True)
    until = parse_api_datetime(raw["until"] or None, "until", date_only=True)
    if until is not None and DATE_ONLY_RE.fullmatch(raw["until"]):
        until += timedelta(days=1) - timedelta(microseconds=1)
    return AuditQuery(
        action=action,
        actor=actor,
        target=target,
        since=since,
        until=until,
        page=_int_arg(args, "page", 1, MAX_PAGE),
        per_page=_int_arg(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
        raw=raw,
    )


def capped(items: list[Any], limit: int = MAX_DETAIL_ITEMS) -> list[Any]:
    """A list for ``details``, cut to ``limit`` items (the full count goes in its own key)."""
    return list(items[:limit])


class AuditLog:
    def __init__(self, db: SQLAlchemy, runtime: Runtime) -> None:
        self.db = db
        self.runtime = runtime
        if runtime.settings.audit_retention_days < 1:
            raise InvalidSetting(
                f"STASK_AUDIT_RETENTION_DAYS must be at least 1, got {runtime.settings.audit_retention_days}"
            )

    def record(
        self, actor: Actor, action: str, target: str | None = None, details: Mapping[str, Any] | None = None
    ) -> bool:
        """Write one row (one INSERT, its own transaction); False, logged, if it could not be written.

        The change it records has already happened: a database error here must not turn its
        success into an error, so it is logged with the row's contents instead.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}: add it to stask.service.audit.ACTIONS")
        values = {
            "created_at": utcnow(),
            "actor_role": actor.role,
            "actor_kind": actor.kind[:16],
            "actor": actor.label[:100],
            "client": (actor.client or None) and str(actor.client)[:64],
            "action": action,
            "target": target[:100] if target else None,
            "details": dict(details) if details else None,
        }
        try:
            with self.db.engine.begin() as connection:
                connection.execute(sa.insert(AUDIT).values(**values))
        except sa.exc.SQLAlchemyError:
            log.exception(
                "stask: could not write the audit row %s", {k: v for k, v in values.items() if k != "details"}
            )
            return False
        return True

    def page(self, query: AuditQuery, cap: int | None = None) -> AuditPage:
        """Newest first; two bounded statements (the page, the count up to ``cap + 1``)."""
        cap = cap or self.runtime.settings.list_count_cap or COUNT_CAP
        where = _conditions(query)
        session = self.db.session
        statement = (
            sa.select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.id.desc())
            .limit(query.per_page)
            .offset(query.offset)
        )
        items = list(session.scalars(statement))
        if query.page == 1 and len(items) < query.per_page:
            counted = len(items)
        else:
            inner = sa.select(AuditEntry.id).where(*where).limit(cap + 1).subquery()
            counted = int(session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)
        for item in items:
            session.expunge(item)
        session.commit()
        return AuditPage(
            items=items, total=min(counted, cap), total_capped=counted > cap, page=query.page, per_page=query.per_page
        )

    def cleanup(self, retention_days: int | None = None) -> int:
        """Delete rows older than ``retention_days`` (default: the setting); returns how many (one DELETE)."""
        days = self.runtime.settings.audit_retention_days if retention_days is None else retention_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InvalidInput("the audit retention must be a whole number of days, at least 1")
        cutoff = utcnow() - timedelta(days=days)
        session = self.db.session
        result = session.execute(sa.delete(AUDIT).where(AUDIT.c.created_at < cutoff))
        session.commit()
        return int(cast(sa.CursorResult[Any], result).rowcount or 0)


def _conditions(query: AuditQuery) -> list[Any]:
    where: list[Any] = []
    if query.action:
        where.append(AuditEntry.action == query.action)
    if query.actor:
        where.append(AuditEntry.actor == query.actor)
    if query.target:
        where.append(AuditEntry.target == query.target)
    if query.since:
        where.append(AuditEntry.created_at >= query.since)
    if query.until:
        where.append(AuditEntry.created_at <= query.until)
    return where
