"""The Flask extension: ``STask(app)`` or ``STask().init_app(app)``.

Configuration keys (see :mod:`stask.settings` for defaults): ``DATABASE_URL`` (used when
``SQLALCHEMY_DATABASE_URI`` is unset), ``REDIS_URL``, ``STASK_STORAGE``,
``STASK_WORKERS``, ``STASK_AUTO_ACTIVATE``, ``STASK_MAX_ATTEMPTS``,
``STASK_BACKOFF_BASE``, ``STASK_BACKOFF_CAP``, ``STASK_TIMEOUT``, ``STASK_HEARTBEAT_TTL``,
``STASK_RECONCILE_INTERVAL``, ``STASK_PROGRESS_TTL``, ``STASK_CACHE_L1_TTL``,
``STASK_CACHE_L2_TTL``, ``STASK_WORKER_CLASS``, ``STASK_REDIS_PREFIX``, ``STASK_URL_PREFIX``.

Like Flask-SQLAlchemy, the instance keeps no reference to an app: per-app state lives in
``app.extensions["stask.runtime"]``, and the instance itself in ``app.extensions["stask"]``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from flask_caching import Cache
from flask_sqlalchemy import SQLAlchemy
from rq.timeouts import UnixSignalDeathPenalty

from .engine.progress import Keys, LiveProgress
from .engine.queues import Transport
from .models import Base
from .monitoring import rollups  # noqa: F401  (registers s_stats_hourly on Base.metadata)
from .service.tasks import TaskService
from .settings import apply_defaults, normalise_database_url
from .storage import Storage
from .workers.registry import WorkerCache

#: The Flask-SQLAlchemy instance stask uses when the host app has none of its own.
default_db = SQLAlchemy(model_class=Base)


class Runtime:
    """Everything stask holds for one app: connections, queues, storage, caches."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        prefix = config["STASK_REDIS_PREFIX"]
        self.redis = redis.Redis.from_url(config["REDIS_URL"], health_check_interval=30)
        self.transport = Transport(self.redis)
        self.keys = Keys(prefix)
        self.live = LiveProgress(
            self.redis, self.keys, int(config["STASK_PROGRESS_TTL"]), int(config["STASK_HEARTBEAT_TTL"])
        )
        self.storage = Storage(config["STASK_STORAGE"])
        self.cache = Cache()
        self.cache.init_app(
            app,
            config={
                "CACHE_TYPE": "RedisCache",
                "CACHE_REDIS_URL": config["REDIS_URL"],
                "CACHE_KEY_PREFIX": f"{prefix}:cache:",
                "CACHE_DEFAULT_TIMEOUT": int(config["STASK_CACHE_L2_TTL"]),
            },
        )
        self.workers = WorkerCache(
            self.cache,
            self.redis,
            f"{prefix}:cache-stats",
            float(config["STASK_CACHE_L1_TTL"]),
            int(config["STASK_CACHE_L2_TTL"]),
        )

    @contextlib.contextmanager
    def deadline(self, seconds: int) -> Iterator[None]:
        """Interrupt an in-process run after ``seconds`` (SIGALRM works in the main thread only)."""
        if threading.current_thread() is threading.main_thread():
            with UnixSignalDeathPenalty(seconds, job_id="stask"):
                yield
        else:
            yield


class STask(TaskService):
    """Background tasks for Flask: durable rows in SQL, transport on RQ."""

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self._db = db
        self.db: SQLAlchemy = db or default_db
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        apply_defaults(app)
        database_url = os.environ.get("DATABASE_URL") or app.config.get("DATABASE_URL")
        if database_url:
            app.config.setdefault("SQLALCHEMY_DATABASE_URI", normalise_database_url(database_url))
        app.config.setdefault("SQLALCHEMY_DATABASE_URI", "sqlite:///" + os.path.join(app.instance_path, "stask.db"))
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
        if self._db is None and "sqlalchemy" in app.extensions:
            self.db = app.extensions["sqlalchemy"]  # the host's own instance
        elif "sqlalchemy" not in app.extensions:
            self.db.init_app(app)
        os.makedirs(app.instance_path, exist_ok=True)
        app.extensions["stask.runtime"] = Runtime(app)
        app.extensions["stask"] = self
        _configure_sqlite(app, self.db)
        _dispose_pools_after_fork(app, self.db)

        from .cli import stask_cli

        app.cli.add_command(stask_cli)
        if app.config["STASK_WEB"]:
            from .web import register_web

            register_web(app)

    def create_tables(self) -> None:
        """Create the stask tables without Alembic (host apps that manage schemas themselves)."""
        Base.metadata.create_all(self.db.engine)


def engine_options(uri: str) -> dict[str, Any]:
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_recycle": 1800}


def _configure_sqlite(app: Flask, db: SQLAlchemy) -> None:
    """WAL and a busy timeout let a web process and worker processes share one SQLite file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _dispose_pools_after_fork(app: Flask, db: SQLAlchemy) -> None:
    """A forked work horse must not reuse its parent's database sockets."""

    def after_fork() -> None:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork)
