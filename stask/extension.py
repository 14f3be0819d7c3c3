"""The Flask extension: ``STask(app)`` or ``STask().init_app(app)``.

The extension contract of Flask-SQLAlchemy: the instance keeps no reference to an app, so
one instance may serve several apps; per-app state lives in ``app.extensions``
(``"stask"``: this instance, ``"stask.service"``: the :class:`~stask.service.Service`,
``"stask.runtime"``: connections, ``"stask.engine"``: the engine's context). A second
``init_app`` on the same app raises :class:`RuntimeError` before it changes anything.

What ``init_app`` adds to an app (docs/architecture.md lists it too): the ``flask stask``
commands; unless ``STASK_WEB`` is false, the panel, API and monitoring blueprints under
``STASK_URL_PREFIX`` with their request guard; ``STASK_*`` keys missing from ``app.config``
filled with their resolved values (``setdefault``, secrets excepted); and, only when the app
has no Flask-SQLAlchemy of its own, stask's instance with ``SQLALCHEMY_DATABASE_URI`` taken
from ``DATABASE_URL`` (config, then environment) or ``<instance>/stask.db``.
Every configuration key is declared in :mod:`stask.settings`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.pool import Pool

from . import forking
from .engine import idle_ping
from .engine.context import EXTENSION_KEY as ENGINE_KEY
from .models import Base, Worker
from .monitoring import counters, rollups  # noqa: F401  (registers s_task_counts, s_stats_hourly on Base.metadata)
from .runtime import Runtime
from .service import EXTENSION_KEY as SERVICE_KEY
from .service import Service, current_stask
from .service.recovery import Recovery
from .service.tasks import TaskService
from .service.workers import WorkerService
from .service.workflows import WorkflowService
from .settings import Settings, declared, normalise_database_url

#: The Flask-SQLAlchemy instance stask uses when the host app has none of its own.
default_db = SQLAlchemy(model_class=Base)

P = ParamSpec("P")
R = TypeVar("R")
Part = TypeVar("Part")


def _delegate(part: Callable[[Service], Part], method: Callable[Concatenate[Part, P], R]) -> Callable[..., R]:
    """A facade method calling ``method`` on one part of the current app's service (same signature)."""

    @functools.wraps(method)
    def call(self: STask, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(part(current_stask()), *args, **kwargs)

    return call


def _workflows(service: Service) -> WorkflowService:
    return service.workflows


def _tasks(service: Service) -> TaskService:
    return service.tasks


def _workers(service: Service) -> WorkerService:
    return service.workers


def _recovery(service: Service) -> Recovery:
    return service.recovery


class STask:
    """Background tasks for Flask: durable rows in SQL, transport on RQ.

    The methods below are the public API; each needs an app context and acts on the current
    app's :class:`~stask.service.Service` (``stask.service`` gives the whole of it).
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self._own_db = db
        self.db: SQLAlchemy = db or default_db
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "stask" in app.extensions:
            raise RuntimeError(
                "stask is already set up on this app: use the existing instance (app.extensions['stask']) "
                "instead of calling STask(app) or init_app(app) a second time"
            )
        settings = Settings.from_config(app.config)
        if not settings.storage:
            settings = dataclasses.replace(settings, storage=os.path.join(app.instance_path, "stask"))
        for spec in declared():
            if not spec.secret:
                app.config.setdefault(spec.key, getattr(settings, spec.name))
        own_engines = False
        if self._own_db is None and "sqlalchemy" in app.extensions:
            self.db = app.extensions["sqlalchemy"]  # the host's own instance, configured by the host
        elif "sqlalchemy" not in app.extensions:
            uri = app.config.get("SQLALCHEMY_DATABASE_URI") or settings.database_url
            if not uri:
                os.makedirs(app.instance_path, exist_ok=True)
                uri = "sqlite:///" + os.path.join(app.instance_path, "stask.db")
            app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(uri)
            options = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
            own_engines = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options) is options
            self.db.init_app(app)
        runtime = Runtime(app, settings)
        service = Service(self.db, runtime)
        app.extensions["stask.runtime"] = runtime
        app.extensions[SERVICE_KEY] = service
        app.extensions[ENGINE_KEY] = service.engine
        app.extensions["stask"] = self
        with app.app_context():
            engines = list(self.db.engines.values())
        _configure_sqlite(engines)
        if own_engines:
            for server in engines:
                if server.dialect.name != "sqlite":
                    idle_ping.install(server)
        app.extensions["stask.fork"] = fork_hook = _DisposeAfterFork(engines)
        forking.after_fork_in_child(fork_hook)

        from .cli import stask_cli

        app.cli.add_command(stask_cli)
        if settings.web:
            from .web import register_web

            register_web(app, settings)

    # -- the public API -----------------------------------------------------------------------
    @property
    def service(self) -> Service:
        return current_stask()

    @property
    def runtime(self) -> Runtime:
        return current_stask().runtime

    @property
    def settings(self) -> Settings:
        return current_stask().runtime.settings

    create = _delegate(_tasks, TaskService.create)
    create_many = _delegate(_tasks, TaskService.create_many)
    get_task = _delegate(_tasks, TaskService.get)
    get_stats = _delegate(_tasks, TaskService.stats)
    progress = _delegate(_tasks, TaskService.progress)
    retry = _delegate(_tasks, TaskService.retry)
    cancel = _delegate(_tasks, TaskService.cancel)
    delete = _delegate(_tasks, TaskService.delete)
    cleanup = _delegate(_tasks, TaskService.cleanup)
    resolve_worker = _delegate(_workers, WorkerService.resolve)
    discover_workers = _delegate(_workers, WorkerService.discover)
    get_workers = _delegate(_workers, WorkerService.registered)
    get_worker = _delegate(_workers, WorkerService.get)
    update_worker_settings = _delegate(_workers, WorkerService.update_settings)
    process_pending_tasks = _delegate(_recovery, Recovery.process_pending_tasks)
    reconcile = _delegate(_recovery, Recovery.reconcile)
    recover = _delegate(_recovery, Recovery.recover)
    group = _delegate(_workflows, WorkflowService.group)
    chain = _delegate(_workflows, WorkflowService.chain)
    get_group = _delegate(_workflows, WorkflowService.view)
    cancel_group = _delegate(_workflows, WorkflowService.cancel_group)
    retry_failed_in_group = _delegate(_workflows, WorkflowService.retry_failed)
    waiting_reason = _delegate(_workflows, WorkflowService.waiting_reason)

    def activate_worker(self, identifier: str) -> Worker:
        return current_stask().workers.set_active(identifier, True)

    def deactivate_worker(self, identifier: str) -> Worker:
        return current_stask().workers.set_active(identifier, False)

    def create_tables(self) -> None:
        """Create the stask tables without Alembic (host apps that manage schemas themselves)."""
        Base.metadata.create_all(self.db.engine)


def engine_options(uri: str) -> dict[str, Any]:
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    # Pinged when idle instead of at every checkout (stask.engine.idle_ping, installed below).
    return {"pool_recycle": 1800}


def _configure_sqlite(engines: list[sa.Engine]) -> None:
    """WAL and a busy timeout let a web process and worker processes share one SQLite file."""
    for sqlite_engine in engines:
        if sqlite_engine.dialect.name != "sqlite":
            continue

        @sa.event.listens_for(sqlite_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()


class _DisposeAfterFork:
    """A forked work horse must not reuse its parent's database sockets.

    As ``engine.dispose(close=False)`` in the child, minus its cost there: the fresh pool is made
    in the parent before the fork (and kept while the engine's pool and its listeners stay the
    same); it never hands out a connection in the parent, so every child starts it empty. Made
    in the child, it wrote to some 400 inherited pages (copy-on-write), ~1.7 ms per fork. The
    inherited pool stays referenced in the child: never used, and never collected there.
    """

    def __init__(self, engines: list[sa.Engine]) -> None:
        self.engines = engines
        #: Per engine: the pool a spare was made from, its listeners then, the spare, and whether
        #: ``engine_disposed`` has listeners (read in the child, the dispatcher cost ~140 page copies).
        self._spares: list[tuple[Pool, tuple[int, ...], Pool, bool] | None] = [None] * len(engines)
        self._inherited: list[Pool] = []

    def before_fork(self) -> None:
        for index, engine in enumerate(self.engines):
            pool, held = engine.pool, self._spares[index]
            listeners = _listeners(pool)
            if held is None or held[0] is not pool or held[1] != listeners:
                self._spares[index] = (pool, listeners, pool.recreate(), bool(engine.dispatch.engine_disposed))

    def after_fork(self) -> None:
        for index, sqlite_or_server in enumerate(self.engines):
            held = self._spares[index]
            if held is None or held[0] is not sqlite_or_server.pool:  # not prepared by before_fork
                sqlite_or_server.dispose(close=False)
                continue
            self._inherited.append(sqlite_or_server.pool)
            sqlite_or_server.pool = held[2]
            if held[3]:
                sqlite_or_server.dispatch.engine_disposed(sqlite_or_server)
        self._spares = [None] * len(self.engines)  # this child's own forks make their own


def _listeners(pool: Pool) -> tuple[int, ...]:
    """How many listeners each pool event has: a spare copies them when made."""
    dispatch: Any = pool.dispatch
    return tuple(len(getattr(dispatch, name)) for name in dispatch._event_names)


__all__ = ["STask", "current_stask"]
