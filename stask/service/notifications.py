"""Notification rules: create, change, delete and list them, read their delivery log, send a
test, redeliver, and store the rules a single task brings (``notify=[...]``).

**Validation** is :mod:`stask.service.notification_rules` (every bad field named, nothing
stored on a refusal). **Secrets are write-only**: :meth:`NotificationService.to_dict` answers
``"secret": null`` and ``"secret_set"``; a change without ``secret`` keeps it, ``null`` clears it.

**Workers see changes at once.** Every committed change calls
:meth:`~stask.service.deliveries.DeliveryService.rules_changed`, which moves the rules' version
key: this process reloads its cached rules now, the others within a second. A task's own rules
(``task_id`` set) are not in that cache (they follow one task), so storing them needs no call.

**Cost.** Each operation is one to three statements; a list is two (the page, the count; the
delivery log counts at most ``STASK_LIST_COUNT_CAP`` + 1 rows, newest first on its index).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..exceptions import DeliveryNotFound, InvalidInput, InvalidState, NotificationNotFound
from ..models import Delivery, Notification, utcnow
from ..notify.outcome import EXCERPT_CHARS, DeliveryFailed
from ..runtime import Runtime
from ..validation import MAX_ID
from ..workers.base import IDENTIFIER_RE
from . import notification_rules as rules
from .deliveries import DeliveryService
from .listing import COUNT_CAP, RowPage, _id_arg, _one, page_args
from .unique_names import commit_unique, refuse_taken

RULES = cast(sa.Table, Notification.__table__)
#: What the delivery log's status filter takes.
DELIVERY_STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class RuleQuery:
    """A validated rule list request (``GET /api/notifications``)."""

    channel: str | None = None
    enabled: bool | None = None
    identifier: str | None = None
    #: Only this task's own rules (by default, the shared rules only).
    task_id: int | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class DeliveryQuery:
    """A validated delivery log request (``GET /api/deliveries``), newest first."""

    notification_id: int | None = None
    status: str | None = None
    task_id: int | None = None
    event: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass
class DeliveryPage(RowPage[Delivery]):
    """A page of the delivery log; counts stop at the cap (``total_capped``)."""

    total_capped: bool = False


@dataclass(frozen=True)
class TestOutcome:
    """What a receiver answered a sample event: its status code and the start of its body."""

    ok: bool
    response_code: int | None
    excerpt: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": self.ok, "response_code": self.response_code, "excerpt": self.excerpt}
        if self.error is not None:
            answer["error"] = self.error
        return answer


def _choice(args: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = _one(args, key)
    if value and value not in choices:
        raise InvalidInput(f"{key} must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value or None


def parse_rule_query(args: Mapping[str, Any]) -> RuleQuery:
    """The list rules (``stask.service.listing``): an empty value is "not given", the rest exact."""
    identifier = _one(args, "identifier") or None
    if identifier is not None and not IDENTIFIER_RE.fullmatch(identifier):
        raise InvalidInput(f"identifier {identifier[:70]!r} is not a worker identifier")
    enabled = _choice(args, "enabled", ("true", "false"))
    page, per_page = page_args(args)
    return RuleQuery(
        channel=_choice(args, "channel", rules.CHANNELS),
        enabled=None if enabled is None else enabled == "true",
        identifier=identifier,
        task_id=_id_arg(args, "task_id"),
        page=page,
        per_page=per_page,
    )


def parse_delivery_query(args: Mapping[str, Any], notification_id: int | None = None) -> DeliveryQuery:
    """The delivery log's filters; ``notification_id`` given by the path wins over the query's."""
    page, per_page = page_args(args)
    return DeliveryQuery(
        notification_id=notification_id if notification_id is not None else _id_arg(args, "notification_id"),
        status=_choice(args, "status", DELIVERY_STATUSES),
        task_id=_id_arg(args, "task_id"),
        event=_choice(args, "event", rules.EVENTS),
        page=page,
        per_page=per_page,
    )


def page_dict(page: RowPage[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A page in the lists' shape, each row rendered by ``render`` (the delivery log adds ``total_capped``)."""
    answer: dict[str, Any] = {
        "items": [render(item) for item in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": max(1, -(-page.total // page.per_page)),
    }
    if isinstance(page, DeliveryPage):
        answer["total_capped"] = page.total_capped
    return answer


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


class NotificationService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, deliveries: DeliveryService) -> None:
        self.db = db
        self.runtime = runtime
        self.deliveries = deliveries
        self.checker = rules.RuleChecker(deliveries.tasks.workers, runtime.settings.webhook_allow_private)

    # -- checking ----------------------------------------------------------------------------
    def check(self, fields: Mapping[str, Any], *, current: Notification | None = None) -> dict[str, Any]:
        """Column values of a rule (over ``current``'s for a change), or
        :class:`~stask.service.notification_rules.InvalidRule` naming each bad field."""
        task_rule = current is not None and current.task_id is not None
        return self.checker.check(fields, current=current, task_rule=task_rule)

    # -- reading -----------------------------------------------------------------------------
    def get(self, rule_id: Any) -> Notification:
        if isinstance(rule_id, bool) or not isinstance(rule_id, int) or not 1 <= rule_id <= MAX_ID:
            raise NotificationNotFound(f"no notification rule {str(rule_id)[:40]}")
        row = self.db.session.get(Notification, rule_id)
        if row is None:
            raise NotificationNotFound(f"no notification rule {rule_id}")
        return row

    def to_dict(self, rule: Notification) -> dict[str, Any]:
        """The API's rule object: the secret is never in it, only whether one is set."""
        values = rules.api_values(rule)
        return {
            "id": rule.id,
            **values,
            "secret": None,
            "secret_set": bool(rule.secret),
            "task_id": rule.task_id,
            "created_by": rule.created_by,
            "created_at": _iso(rule.created_at),
            "updated_at": _iso(rule.updated_at),
        }

    def delivery(self, delivery_id: Any) -> Delivery:
        if isinstance(delivery_id, bool) or not isinstance(delivery_id, int) or not 1 <= delivery_id <= MAX_ID:
            raise DeliveryNotFound(f"no delivery {str(delivery_id)[:40]}")
        row = self.db.session.get(Delivery, delivery_id)
        if row is None:
            raise DeliveryNotFound(f"no delivery {delivery_id}")
        return row

    def deliveries_page(self, query: DeliveryQuery, cap: int | None = None) -> DeliveryPage:
        """The delivery log, newest first: the page, and a count of at most ``cap`` + 1 rows."""
        cap = cap or self.runtime.settings.list_count_cap or COUNT_CAP
        where: list[Any] = []
        if query.notification_id is not None:
            where.append(Delivery.notification_id == query.notification_id)
        if query.status is not None:
            where.append(Delivery.status == query.status)
        if query.task_id is not None:
            where.append(Delivery.task_id == query.task_id)
        if query.event is not None:
            where.append(Delivery.event == query.event)
        session = self.db.session
        statement = sa.select(Delivery).where(*where).order_by(Delivery.created_at.desc(), Delivery.id.desc())
        items = list(session.scalars(statement.limit(query.per_page).offset((query.page - 1) * query.per_page)))
        if query.page == 1 and len(items) < query.per_page:
            counted = len(items)
        else:
            inner = sa.select(Delivery.id).where(*where).limit(cap + 1).subquery()
            counted = int(session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)
        self._detach(items)
        session.commit()
        return DeliveryPage(items, min(counted, cap), query.page, query.per_page, total_capped=counted > cap)

    def delivery_dict(self, delivery: Delivery) -> dict[str, Any]:
        """The API's delivery object (the payload sent is not in it: lists stay small)."""
        return {
            "id": delivery.id,
            "notification_id": delivery.notification_id,
            "event": delivery.event,
            "subject": delivery.subject,
            "task_id": delivery.task_id,
            "group_id": delivery.group_id,
            "schedule_id": delivery.schedule_id,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "response_code": delivery.response_code,
            "response_excerpt": delivery.response_excerpt,
            "error": delivery.error,
            "job_task_id": delivery.job_task_id,
            "created_at": _iso(delivery.created_at),
            "last_attempt_at": _iso(delivery.last_attempt_at),
            "delivered_at": _iso(delivery.delivered_at),
        }

    # -- changing ----------------------------------------------------------------------------
    def create(self, fields: Mapping[str, Any], created_by: str | None = None) -> Notification:
        """Check every field (nothing is stored if one is bad) and store a shared rule."""
        values = self.check(fields)
        self._name_free(values["name"], None)
        now = utcnow()
        row = Notification(**_sql_nulls(values), created_by=created_by, created_at=now, updated_at=now)
        self.db.session.add(row)
        self._commit(values["name"])
        self.deliveries.rules_changed()
        return row

    def update(self, rule_id: Any, fields: Mapping[str, Any]) -> Notification:
        """Change the fields given (the others are kept, the secret too unless given)."""
        row = self.get(rule_id)
        values = self.check(fields, current=row)
        if values["name"] != row.name:
            self._name_free(values["name"], row.id)
        for key, value in _sql_nulls(values).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self._commit(values["name"])
        self.deliveries.rules_changed()
        return row

    def delete(self, rule_id: Any) -> None:
        """Delete a rule and its delivery log (a notifier task still queued for one finds it gone)."""
        row = self.get(rule_id)
        self.db.session.execute(
            sa.delete(Delivery).where(Delivery.notification_id == row.id).execution_options(synchronize_session=False)
        )
        self.db.session.delete(row)
        self.db.session.commit()
        self.deliveries.rules_changed()

    def send_test(self, rule_id: Any) -> TestOutcome:
        """Send a sample event through the rule now; what the receiver answered, good or bad."""
        rule = self.get(rule_id)
        try:
            response = self.deliveries.send_test(rule)
        except DeliveryFailed as exc:
            self.db.session.rollback()  # nothing was changed: end the read
            answer = exc.response
            why = f"the receiver answered {answer.code}" if answer.code is not None else "no answer"
            if exc.permanent:
                why = "refused by stask" if answer.code is None else why
            return TestOutcome(False, answer.code, answer.excerpt[:EXCERPT_CHARS], why)
        self.db.session.rollback()
        return TestOutcome(True, response.code, response.excerpt[:EXCERPT_CHARS])

    def redeliver(self, delivery_id: Any) -> Delivery:
        """Send a delivery again (its log keeps the earlier attempts); 404 for an unknown id."""
        self.delivery(delivery_id)
        return self.deliveries.redeliver(delivery_id)

    # -- a task's own rules ------------------------------------------------------------------
    def parse_task_notify(self, value: Any) -> list[dict[str, Any]]:
        """``notify=[...]`` of one task checked into column values (see
        :func:`~stask.service.notification_rules.parse_task_notify`); InvalidField ``notify``."""
        return rules.parse_task_notify(value, self.checker)

    def insert_for_task(self, task_id: int, parsed: list[dict[str, Any]], created_by: str | None) -> None:
        """Store a task's rules (``task 12 #1``, ``#2``, ...) in the caller's transaction: one
        INSERT, no commit (the task's own INSERT and this one stand or fall together)."""
        if not parsed:
            return
        now = utcnow()
        rows = [
            {
                **_sql_nulls(values),
                "name": f"task {task_id} #{number}",
                "identifier": None,
                "action": None,
                "task_id": task_id,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
            }
            for number, values in enumerate(parsed, 1)
        ]
        self.db.session.execute(sa.insert(RULES), rows)  # Core: one executemany, whichever values are None

    # -- helpers -----------------------------------------------------------------------------
    def _detach(self, rows: list[Any]) -> None:
        """Keep what was read: the commit that ends the read would expire the rows."""
        for row in rows:
            self.db.session.expunge(row)

    def _name_free(self, name: str, own_id: int | None) -> None:
        session = self.db.session
        refuse_taken(session, Notification.id, [Notification.name == name], own_id, _name_taken(name))

    def _commit(self, name: str) -> None:
        commit_unique(self.db.session, _name_taken(name))

    # Last: a method named ``list`` would shadow the builtin in the annotations below it.
    def list(self, query: RuleQuery) -> RowPage[Notification]:
        """Rules by name, a page at a time: the shared ones, or one task's (``task_id``)."""
        where: list[Any] = [
            Notification.task_id.is_(None) if query.task_id is None else Notification.task_id == query.task_id
        ]
        if query.channel is not None:
            where.append(Notification.channel == query.channel)
        if query.enabled is not None:
            where.append(Notification.enabled == query.enabled)
        if query.identifier is not None:
            where.append(Notification.identifier == query.identifier)
        session = self.db.session
        statement = sa.select(Notification).where(*where).order_by(Notification.name, Notification.id)
        items = list(session.scalars(statement.limit(query.per_page).offset((query.page - 1) * query.per_page)))
        total = int(session.scalar(sa.select(sa.func.count(Notification.id)).where(*where)) or 0)
        self._detach(items)
        session.commit()
        return RowPage(items, total, query.page, query.per_page)


#: JSON columns that may be empty: ``None`` must be SQL NULL there (the ORM would store JSON ``null``).
_JSON_OPTIONAL = ("recipients", "headers")


def _sql_nulls(values: dict[str, Any]) -> dict[str, Any]:
    """Column values with SQL NULL for the empty JSON columns (ORM and Core alike; the JSON type's
    bind step turns ``null()`` into NULL, also in an executemany)."""
    return {key: sa.null() if value is None and key in _JSON_OPTIONAL else value for key, value in values.items()}


class NotificationNameTaken(InvalidState):
    """Another rule has this name (409)."""

    code = "notification_name_taken"
    field = "name"


def _name_taken(name: str) -> NotificationNameTaken:
    return NotificationNameTaken(f"name: another notification rule is named {name!r}")


__all__ = [
    "DELIVERY_STATUSES",
    "EXCERPT_CHARS",
    "DeliveryPage",
    "DeliveryQuery",
    "NotificationNameTaken",
    "NotificationService",
    "RuleQuery",
    "TestOutcome",
    "page_dict",
    "parse_delivery_query",
    "parse_rule_query",
]
