"""Building the app the tests run against, releasing its connections, running a worker in-process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask

from stask import create_app
from stask.models import Base
from tests.support.environment import require
from tests.support.servers import Databases, RedisServer

PLUGINS = "tests.support.plugins"
TEST_WORKERS = ",".join(f"{PLUGINS}:{name}" for name in ("EchoWorker", "FlakyWorker", "SlowWorker", "RecorderWorker"))


@dataclass
class Resources:
    """What the session owns: its Redis server, its databases, its instance folder."""

    redis: RedisServer
    databases: Databases
    instance_path: Path


def database_url(resources: Resources, backend: str) -> str:
    """This session's database on ``backend``, created on first use (skip or fail when unreachable)."""
    if backend == "sqlite":
        return resources.databases.urls[backend]
    require(backend, lambda: resources.databases.create(backend))
    # require() remembers a server's reachability, perhaps from another check: create here too.
    return resources.databases.create(backend)


def flush_redis(resources: Resources, url: str) -> None:
    """Empty a Redis the suite owns: the session's server, or a test's own stoppable one."""
    if url == resources.redis.url:
        resources.redis.flush()
    else:
        with redis.Redis.from_url(url) as client:
            client.flushdb()


def build_app(resources: Resources, backend: str, tmp_path: Path, redis_url: str | None = None, **config: Any) -> Flask:
    """A new app on this session's database and Redis, both emptied; every setting given up front.

    The caller owns the app and must ``close_app`` it (the ``make_app`` fixture does).
    """
    url = database_url(resources, backend)
    redis_url = redis_url or resources.redis.url
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "STASK_STORAGE": str(tmp_path / "storage"),
        "STASK_WORKERS": TEST_WORKERS,
        "STASK_AUTO_ACTIVATE": True,
        "STASK_BACKOFF_BASE": 0.2,
        "STASK_BACKOFF_CAP": 1.0,
        "STASK_HEARTBEAT_TTL": 2,
        "STASK_RECONCILE_INTERVAL": 1,
        "SECRET_KEY": "test-secret",
        **config,
    }
    os.environ.setdefault("STASK_INSTANCE_PATH", str(resources.instance_path))
    app = create_app(settings)
    with app.app_context():
        db = app.extensions["stask"].db
        if url not in resources.databases.migrated:
            from flask_migrate import upgrade

            upgrade()  # a database of this session's own: it starts empty
            resources.databases.migrated.add(url)
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            if connection.dialect.name == "sqlite" and sa.inspect(connection).has_table("sqlite_sequence"):
                connection.execute(sa.text("DELETE FROM sqlite_sequence"))  # ids from 1 again (AUTOINCREMENT)
        db.session.remove()
    flush_redis(resources, redis_url)
    return app


def close_app(app: Flask) -> None:
    """Release what an app holds: its Redis connection pools and its database engines."""
    runtime = app.extensions.get("stask.runtime")
    if runtime is not None:
        runtime.close()
    ext = app.extensions.get("stask")
    if ext is not None:
        with app.app_context():
            ext.db.session.remove()
            for engine in ext.db.engines.values():
                engine.dispose()


def redis_of(app: Flask) -> redis.Redis:
    """The app's own Redis client (released with the app, unlike a client made in a test)."""
    client: redis.Redis = app.extensions["stask.runtime"].redis
    return client


def run_worker(app: Flask, kind: str = "simple", **options: Any) -> None:
    """Serve the queues in this process until they are empty (RQ burst mode)."""
    from stask.engine.processes import build_worker

    worker = build_worker(app, kind=kind)
    try:
        worker.work(burst=True, logging_level="WARNING", **options)
    finally:
        scheduler = worker.scheduler
        if scheduler is not None and scheduler._connection is not None:
            scheduler._connection.connection_pool.disconnect()  # RQ's scheduler opens a pool of its own


def engine_of(app: Flask) -> sa.Engine:
    with app.app_context():
        engine: sa.Engine = app.extensions["stask"].db.engine
    return engine
