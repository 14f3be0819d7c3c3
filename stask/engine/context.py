"""The narrow view of stask the engine runs on: a session, live progress, storage, the RQ
transport and a worker resolver. The engine never sees the facade, the web or settings it
does not need, which keeps the task path's cost visible and its tests small."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import scoped_session

from ..storage import Storage
from ..workers.registry import WorkerDefinition
from .outages import OutageGuard
from .progress import LiveProgress
from .queues import Transport

#: Where ``init_app`` keeps an app's :class:`EngineContext` (``app.extensions[...]``).
EXTENSION_KEY = "stask.engine"


class WorkerResolver(Protocol):
    """Finds worker definitions (the service's two-level cache implements it)."""

    def resolve(self, identifier: str) -> WorkerDefinition | None: ...

    def active_identifiers(self) -> list[str]: ...


class EndHook(Protocol):
    """Follows up the end of a task with dependents or a group (the service's workflows part).

    ``ended`` runs in the transaction that recorded the end, before its commit, and returns
    the job payloads to hand to RQ once committed (released dependents, a group's callback).
    """

    def ended(self, ended: list[tuple[int, int]], now: datetime) -> list[dict[str, Any]]: ...

    def dispatch(self, payloads: list[dict[str, Any]], now: datetime) -> None: ...


class NotifyHook(Protocol):
    """Records the task events notification rules match (the service's deliveries part).

    ``wants`` answers from memory (the task path's cost when no rule matches is nil);
    ``record`` runs in the transaction that recorded the event, before its commit, and returns
    the notifier jobs to hand to RQ once committed (``dispatch``).
    """

    def wants(self, identifier: str, action: str, event: str, own_rules: bool) -> bool: ...

    def record(self, task_id: int, event: str, subject: str, now: datetime) -> list[dict[str, Any]]: ...

    def listening(self, event: str) -> bool: ...

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
    ) -> list[dict[str, Any]]: ...

    def dispatch(self, payloads: list[dict[str, Any]], now: datetime) -> None: ...


@dataclass(frozen=True)
class Delegation:
    """What a forking worker process decided before forking the work horse for a task.

    The parent claims the row on its own warm connection and records the outcome after the
    horse exits, so the horse runs the action without opening a database connection (a new
    one per fork cost more than the two statements). The horse inherits this by ``fork``.
    """

    task_id: int
    attempt: int
    claimed: bool
    now: datetime
    #: A local file the horse also writes its outcome to: the parent reads it even when Redis
    #: lost the hand-over key (an outage, a restart without persistence).
    handover_file: str | None = None
    #: The task's worker as the parent resolved it just before the fork: the horse runs it without
    #: asking Redis again (two round trips on a connection it must first open).
    definition: WorkerDefinition | None = None


@dataclass
class EngineContext:
    db: SQLAlchemy
    live: LiveProgress
    storage: Storage
    transport: Transport
    workers: WorkerResolver
    #: Set by a forking worker process around each fork; ``None`` everywhere else.
    delegation: Delegation | None = None
    #: This process's view of a Redis or database outage (its grace is ``STASK_OUTAGE_GRACE``).
    outages: OutageGuard = field(default_factory=OutageGuard)
    #: Set by the service: releases dependents and ends groups when a followed-up task ends.
    end_hook: EndHook | None = None
    #: Set by the service: records the events notification rules match (finished, failed, ...).
    notify_hook: NotifyHook | None = None
    #: Set by a simple worker process while it works: a finished attempt's outcome may wait for
    #: its next claim, both then recorded by one statement (see ``runner.HeldOutcome``).
    hold_outcomes: bool = False
    #: The outcome waiting for that claim (a ``runner.HeldOutcome``), if any.
    held: Any = None

    def __post_init__(self) -> None:
        if self.outages.reset is None:
            self.outages.reset = self.db.session.remove  # a failed statement leaves the session unusable

    @property
    def session(self) -> scoped_session:  # type: ignore[type-arg]
        return self.db.session

    @staticmethod
    def of(app: Flask) -> EngineContext:
        return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
