"""Deliveries: the task events notification rules match, recorded durably and sent by the
built-in ``notifier`` worker (stask's own tasks in the ``low`` queue, retried with backoff).

An event is recorded in the transaction that records it (a task's finish, a cancel, a group's
end), so it is told exactly once: one ``s_deliveries`` row per (rule, event, subject), and one
notifier task per row. Tasks no rule can match pay nothing: the rules are cached in each
process (reloaded when the version key in Redis moves), and only a match costs statements.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..models import Delivery, Notification
from ..runtime import Runtime
from .tasks import TaskService

if TYPE_CHECKING:  # written alongside (transports)
    from ..notify.webhook import Response

log = logging.getLogger("stask")
#: Seconds a process trusts its cached rules before it reads the version key again.
RULES_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class CachedRule:
    """What matching needs of a rule (the rest is read when its delivery is sent)."""

    id: int
    identifier: str | None
    action: str | None
    events: frozenset[str]

    def matches(self, identifier: str, action: str, event: str) -> bool:
        return event in self.events and self.identifier in (None, identifier) and self.action in (None, action)


class RuleCache:
    """The enabled shared rules (not the per-task ones), per process, reloaded on a version change."""

    def __init__(self, db: SQLAlchemy, runtime: Runtime) -> None:
        self.db = db
        self.runtime = runtime
        self._rules: list[CachedRule] | None = None
        self._version: bytes | None = None
        self._checked = 0.0

    def changed(self) -> None:
        """Call after committing a rule change: this process reloads now, the others within a second."""
        self._rules = None
        key = self.runtime.keys.notifications_version
        try:
            client = self.runtime.redis
            pipe = client.pipeline(transaction=False)
            pipe.set(key, secrets.randbelow(2**62), nx=True)
            pipe.incr(key)
            pipe.execute()
        except redis.RedisError:
            log.warning("stask: Redis is unreachable; other processes see the rule change on their next reload")

    def rules(self) -> list[CachedRule]:
        now = time.monotonic()
        if self._rules is not None and now - self._checked < RULES_CHECK_SECONDS:
            return self._rules
        self._checked = now
        try:
            version = self.runtime.redis.get(self.runtime.keys.notifications_version)
        except redis.RedisError:
            version = self._version  # keep what we have; reload only if we have nothing
        if self._rules is None or version != self._version:
            self._rules = self._load()
            self._version = version
        return self._rules

    def _load(self) -> list[CachedRule]:
        rows = self.db.session.execute(
            sa.select(Notification.id, Notification.identifier, Notification.action, Notification.events).where(
                Notification.enabled.is_(sa.true()), Notification.task_id.is_(None)
            )
        ).all()
        return [CachedRule(int(r.id), r.identifier, r.action, frozenset(r.events or ())) for r in rows]


class DeliveryService:
    """Records events for the rules that match them, and sends (and re-sends) their deliveries."""

    def __init__(self, db: SQLAlchemy, runtime: Runtime, tasks: TaskService) -> None:
        self.db = db
        self.runtime = runtime
        self.tasks = tasks
        self.rules = RuleCache(db, runtime)

    def rules_changed(self) -> None:
        """The rules service calls this after every committed change of a rule."""
        self.rules.changed()

    def redeliver(self, delivery_id: int) -> Delivery:
        """Send a delivery again (a new notifier task); its log keeps the earlier attempts."""
        raise NotImplementedError  # coordinator: being written

    def send_test(self, rule: Notification) -> Response:
        """Send a sample event through ``rule`` now, in this process (the panel's "send test");
        raises :class:`~stask.notify.webhook.DeliveryFailed` with what the receiver answered."""
        raise NotImplementedError  # coordinator: being written
