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
from datetime import datetime
from typing import Any, cast

import redis
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..engine.runner import TaskInfo
from ..enums import Status
from ..exceptions import DeliveryNotFound, InvalidState, StaskError
from ..models import Delivery, Notification, Task, utcnow
from ..notify import email, render, webhook
from ..notify.outcome import DeliveryFailed, Response, refused
from ..runtime import Runtime
from .tasks import MAX_TASK_ID as MAX_ID
from .tasks import TaskService

log = logging.getLogger("stask")
#: The built-in worker that sends deliveries (``stask.workers.builtin.notifier``).
NOTIFIER = "notifier"
#: A delivery's states: waiting for (another) attempt, sent, given up.
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
#: Seconds a webhook receiver has to answer.
WEBHOOK_TIMEOUT = 10.0
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
            version = cast("bytes | None", self.runtime.redis.get(self.runtime.keys.notifications_version))
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

    # -- recording (the engine's NotifyHook) -------------------------------------------------
    def wants(self, identifier: str, action: str, event: str, own_rules: bool) -> bool:
        """Whether an event may concern a rule: from memory, so a task no rule matches pays nothing.

        The notifier's own tasks never notify (a failing receiver would feed itself).
        """
        if identifier == NOTIFIER:
            return False
        return own_rules or any(rule.matches(identifier, action, event) for rule in self.rules.rules())

    def listening(self, event: str) -> bool:
        """Whether some shared rule listens to ``event`` (from memory)."""
        return any(event in rule.events for rule in self.rules.rules())

    def record(self, task_id: int, event: str, subject: str, now: datetime) -> list[dict[str, Any]]:
        """In the caller's transaction: one delivery and one notifier task per matching rule.

        Returns the notifier jobs to enqueue once the caller committed (:meth:`dispatch`).
        """
        session = self.db.session
        task = session.execute(
            sa.select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if task is None:
            return []
        rule_ids = self._matching(task.identifier, task.action, event, task.id if task.notify else None)
        return self._insert(rule_ids, event, subject, {"task": task.to_dict()}, now, task_id=task.id)

    def dispatch(self, payloads: list[dict[str, Any]], now: datetime) -> None:
        """After the commit: hand the notifier jobs to RQ (reconcile does if Redis fails)."""
        self.tasks.enqueue(payloads, now)

    def record_event(
        self,
        event: str,
        subject: str,
        objects: dict[str, Any],
        now: datetime,
        *,
        identifier: str | None,
        action: str | None,
        group_id: int | None = None,
        schedule_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """An event about a group or a schedule (in the caller's transaction; see :meth:`record`)."""
        rule_ids = [
            rule.id
            for rule in self.rules.rules()
            if event in rule.events
            and (rule.identifier is None or rule.identifier == identifier)
            and (rule.action is None or rule.action == action)
        ]
        return self._insert(rule_ids, event, subject, objects, now, group_id=group_id, schedule_id=schedule_id)

    def _matching(self, identifier: str, action: str, event: str, own_task: int | None) -> list[int]:
        ids = [rule.id for rule in self.rules.rules() if rule.matches(identifier, action, event)]
        if own_task is not None:
            rows = self.db.session.execute(
                sa.select(Notification.id, Notification.events).where(
                    Notification.task_id == own_task, Notification.enabled.is_(sa.true())
                )
            ).all()
            ids += [int(row.id) for row in rows if event in (row.events or ())]
        return ids

    def _insert(
        self,
        rule_ids: list[int],
        event: str,
        subject: str,
        objects: dict[str, Any],
        now: datetime,
        **about: int | None,
    ) -> list[dict[str, Any]]:
        """Delivery rows (skipping those already recorded) and their notifier tasks."""
        if not rule_ids:
            return []
        session = self.db.session
        recorded = set(
            session.scalars(
                sa.select(Delivery.notification_id).where(
                    Delivery.notification_id.in_(rule_ids), Delivery.event == event, Delivery.subject == subject
                )
            )
        )
        deliveries = [
            Delivery(
                notification_id=rule_id,
                event=event,
                subject=subject,
                payload=objects,
                status=PENDING,
                attempts=0,
                created_at=now,
                **about,
            )
            for rule_id in dict.fromkeys(rule_ids)
            if rule_id not in recorded
        ]
        if not deliveries:
            return []
        session.add_all(deliveries)
        session.flush()
        return self._notifier_tasks(deliveries, now)

    def _notifier_tasks(self, deliveries: list[Delivery], now: datetime) -> list[dict[str, Any]]:
        """One notifier task per delivery (in the caller's transaction); their job payloads."""
        try:
            prepared = [
                self.tasks.prepare(
                    {"identifier": NOTIFIER, "action": "deliver", "data": {"delivery_id": d.id}, "priority": "low"}, now
                )
                for d in deliveries
            ]
        except StaskError as exc:  # not discovered yet: the rows wait for a redeliver
            log.warning("stask: %d notification(s) recorded but not sent: %s", len(deliveries), exc)
            for delivery in deliveries:
                delivery.error = str(exc)[:1000]
            return []
        ids, _ = self.tasks.insert_prepared(prepared)
        for delivery, task_id in zip(deliveries, ids, strict=True):
            delivery.job_task_id = task_id
        session = self.db.session
        session.flush()
        return [TaskInfo.from_payload({**p, "id": task_id}).payload() for task_id, p in zip(ids, prepared, strict=True)]

    # -- sending (the notifier worker) -------------------------------------------------------
    def deliver(self, delivery_id: int, *, last_attempt: bool) -> str:
        """Send one delivery and record how it went; raises :class:`DeliveryFailed` to be retried.

        A delivery already delivered is not sent again (a redelivery resets it first).
        """
        session = self.db.session
        delivery = session.get(Delivery, delivery_id)
        rule = session.get(Notification, delivery.notification_id) if delivery is not None else None
        if delivery is None or rule is None:
            session.commit()
            return f"delivery {delivery_id} or its rule was deleted: nothing sent"
        if delivery.status == DELIVERED:
            session.commit()
            return f"delivery {delivery_id} was already delivered"
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            response = self._send(rule, delivery.event, delivery.payload)
        except DeliveryFailed as exc:
            delivery.response_code = exc.response.code
            delivery.response_excerpt = exc.response.excerpt[:500]
            delivery.error = str(exc)[:1000]
            delivery.status = FAILED if (last_attempt or exc.permanent) else PENDING
            session.commit()
            raise
        delivery.status = DELIVERED
        delivery.delivered_at = utcnow()
        delivery.response_code = response.code
        delivery.response_excerpt = response.excerpt[:500]
        delivery.error = None
        session.commit()
        code = f" ({response.code})" if response.code else ""
        return f"{delivery.event} of {delivery.subject} delivered by {rule.channel}{code}"

    def _send(self, rule: Notification, event: str, objects: dict[str, Any]) -> Response:
        """One attempt through the rule's channel; a template that fails is a permanent failure."""
        settings = self.runtime.settings
        try:
            if rule.channel == "webhook":
                body = render.webhook_body(event, objects, utcnow(), format=rule.format, language=rule.language)
            else:
                subject, text = render.email_message(
                    event,
                    objects,
                    language=rule.language,
                    subject_template=rule.subject_template,
                    body_template=rule.body_template,
                )
        except ValueError as exc:
            raise refused(str(exc)) from None
        if rule.channel == "webhook":
            return webhook.post_webhook(
                rule.url or "",
                body,
                event=event,
                secret=rule.secret,
                headers=rule.headers or {},
                timeout=WEBHOOK_TIMEOUT,
                allow_private=settings.webhook_allow_private,
            )
        sent = email.send_email(settings, list(rule.recipients or []), subject, text)
        return Response(code=None, excerpt=sent)

    def send_test(self, rule: Notification) -> Response:
        """Send a sample of the rule's first event through it now, in this process (the panel's
        "send test"); raises :class:`~stask.notify.outcome.DeliveryFailed` with the answer."""
        event = (rule.events or ["finished"])[0]
        return self._send(rule, event, sample_objects(rule, event, utcnow()))

    def redeliver(self, delivery_id: int) -> Delivery:
        """Send a delivery again (a new notifier task); its log keeps the earlier attempts."""
        session = self.db.session
        delivery = session.get(Delivery, delivery_id) if 1 <= delivery_id <= MAX_ID else None
        if delivery is None:
            session.commit()
            raise DeliveryNotFound(f"no delivery {delivery_id}")
        if delivery.job_task_id is not None:
            job = session.get(Task, delivery.job_task_id)
            if job is not None and not job.is_final:
                session.commit()
                raise InvalidState(f"delivery {delivery_id} is being sent (task {job.id}): wait for it to end")
        now = utcnow()
        delivery.status = PENDING
        delivery.error = None
        session.flush()
        payloads = self._notifier_tasks([delivery], now)
        session.commit()
        self.dispatch(payloads, now)
        return delivery


def sample_objects(rule: Notification, event: str, now: datetime) -> dict[str, Any]:
    """What a real event of ``rule`` would carry, with made-up values (id 0)."""
    stamp = now.isoformat() + "Z"
    identifier, action = rule.identifier or "example", rule.action or "run"
    if event == "schedule_missed":
        schedule = {"id": 0, "name": "sample schedule", "identifier": identifier, "action": action, "enabled": True}
        return {"task": None, "schedule": schedule}
    if event == "group_finished":
        group = {"id": 0, "name": "sample group", "status": "finished", "total": 3, "failed": 0, "cancelled": 0}
        return {"task": None, "group": {**group, "created_at": stamp, "ended_at": stamp}}
    status = {"failed": Status.FAILED, "cancelled": Status.CANCELLED, "retrying": Status.QUEUED}.get(event)
    sample = Task(
        id=0,
        identifier=identifier,
        action=action,
        status=int(status or (Status.RUNNING if event == "stuck" else Status.FINISHED)),
        priority="normal",
        progress=100 if status is None and event != "stuck" else 0,
        message="A sample event sent by 'send test'",
        data={},
        attempts=1,
        max_attempts=1,
        created_at=now,
        started_at=now,
        finished_at=None if event in ("stuck", "retrying") else now,
        waiting_parents=0,
    )
    return {"task": sample.to_dict()}
