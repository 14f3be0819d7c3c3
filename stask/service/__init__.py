"""The service: the typed facade every adapter (code, API, panel, CLI, worker processes)
calls, and the only code that reads or writes rows outside the engine's claim and finish.

One :class:`Service` per app, built by ``init_app``; :func:`current_stask` returns the
current app's. Its parts share one database, one :class:`~stask.runtime.Runtime` and one
engine context:

* ``workers``: discovery, activation, settings, resolution (:mod:`.workers`)
* ``tasks``: create, read, retry, cancel, delete, list, clean up (:mod:`.tasks`)
* ``recovery``: reconcile SQL with Redis, the cron path (:mod:`.recovery`)
* ``overview``: the dashboard's counters, backlog and worker processes (:mod:`.overview`)
* ``audit``: the audit log of changes made by people and tokens (:mod:`.audit`)
* ``schedules``: cron and interval schedules, firing one task per slot (:mod:`.schedules`)
* ``presets``: named, saved runs of a worker action, run in one click (:mod:`.presets`)
* ``workflows``: dependencies' follow-up, groups, chains, ``waiting_reason`` (:mod:`.workflows`)
* ``deliveries``: task events told by notification rules, sent by the notifier (:mod:`.deliveries`)
* ``triggers``: inbound hooks starting an action or a preset from a URL (:mod:`.triggers`)
* ``notifications``: the rules (which events to tell whom), their delivery log, send test (:mod:`.notifications`)
"""

from __future__ import annotations

from flask import current_app
from flask_sqlalchemy import SQLAlchemy

from ..engine.context import EngineContext
from ..engine.outages import OutageGuard
from ..runtime import Runtime
from ..settings import Settings
from .audit import AuditLog
from .deliveries import DeliveryService
from .notifications import NotificationService
from .overview import Overview
from .presets import PresetService
from .recovery import Recovery
from .schedules import ScheduleService
from .tasks import TaskService
from .triggers import TriggerService
from .workers import WorkerService
from .workflows import WorkflowService

#: Where ``init_app`` keeps an app's :class:`Service` (``app.extensions[...]``).
EXTENSION_KEY = "stask.service"


class Service:
    def __init__(self, db: SQLAlchemy, runtime: Runtime) -> None:
        self.db = db
        self.runtime = runtime
        self.workers = WorkerService(db, runtime)
        self.tasks = TaskService(db, runtime, self.workers)
        self.schedules = ScheduleService(db, runtime, self.workers, self.tasks)
        self.workers.sync_schedules = self.schedules.sync_code
        self.presets = PresetService(db, self.workers, self.tasks)
        self.triggers = TriggerService(db, runtime, self.workers, self.tasks)
        self.engine = EngineContext(
            db=db,
            live=runtime.live,
            storage=runtime.storage,
            transport=runtime.transport,
            workers=self.workers,
            outages=OutageGuard(grace=float(runtime.settings.outage_grace)),
        )
        self.workflows = WorkflowService(db, runtime, self.tasks, self.workers)
        self.engine.end_hook = self.tasks.end_hook = self.workflows
        self.recovery = Recovery(db, runtime, self.tasks, self.engine)
        self.overview = Overview(db, runtime, self.tasks)
        self.audit = AuditLog(db, runtime)
        self.deliveries = DeliveryService(db, runtime, self.tasks)
        self.engine.notify_hook = self.tasks.notify_hook = self.workflows.notify_hook = self.deliveries
        self.notifications = NotificationService(db, runtime, self.deliveries)
        self.tasks.task_rules = self.notifications

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


def current_stask() -> Service:
    """The current app's service (needs an app context, like ``flask_sqlalchemy``'s ``db.session``)."""
    try:
        return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError("stask is not set up on this app: call STask(app) or STask().init_app(app) first") from None


__all__ = ["Service", "current_stask"]
