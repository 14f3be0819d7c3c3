"""Fixtures: a real Redis and every database, one parametrised ``app`` fixture.

Servers that are down make their tests skip with the reason when run by hand, and fail
under ``CI=true`` (as Dramatiq's test-suite does): CI must never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from stask import create_app
from stask.models import Base

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_URL = os.environ.get("STASK_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
DATABASE_URLS = {
    "postgresql": os.environ.get("STASK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("STASK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
BACKENDS = ["sqlite", "postgresql", "mariadb"]
TEST_WORKERS = ",".join(
    f"tests.plugins:{name}" for name in ("EchoWorker", "FlakyWorker", "SlowWorker", "RecorderWorker")
)
_reachable: dict[str, str | None] = {}


def require(name: str, check: Any) -> None:
    """Skip (locally) or fail (under CI) when a server the test needs is unreachable."""
    if name not in _reachable:
        try:
            check()
            _reachable[name] = None
        except Exception as exc:  # any failure to connect means "not available"
            _reachable[name] = f"{name} is not reachable: {exc}"
    reason = _reachable[name]
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: servers must be running)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    require("redis", lambda: redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    return REDIS_URL


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite") / "stask-test.db"


def database_url(backend: str, sqlite_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path}"
    url = DATABASE_URLS[backend]

    def check() -> None:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()

    require(backend, check)
    return url


_migrated: set[str] = set()


def make_app(backend: str, sqlite_path: Path, redis_url: str, tmp_path: Path, **config: Any) -> Flask:
    url = database_url(backend, sqlite_path)
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
    os.environ.setdefault("STASK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(settings)
    with app.app_context():
        db = app.extensions["stask"].db
        if url not in _migrated:
            existing = sa.MetaData()
            existing.reflect(db.engine)  # every table, including ones later migrations added
            existing.drop_all(db.engine)
            from flask_migrate import upgrade

            upgrade()
            _migrated.add(url)
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        db.session.remove()
    redis.Redis.from_url(redis_url).flushdb()
    return app


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(backend: str, sqlite_path: Path, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on each database in turn, with discovered (and active) test workers."""
    application = make_app(backend, sqlite_path, redis_url, tmp_path)
    with application.app_context():
        application.extensions["stask"].discover_workers()
        yield application
        application.extensions["stask"].db.session.remove()
        for engine in application.extensions["stask"].db.engines.values():
            engine.dispose()


@pytest.fixture
def sqlite_app(sqlite_path: Path, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite only, for tests whose subject does not depend on the database."""
    application = make_app("sqlite", sqlite_path, redis_url, tmp_path)
    with application.app_context():
        application.extensions["stask"].discover_workers()
        yield application
        application.extensions["stask"].db.session.remove()


@pytest.fixture
def stask(app: Flask) -> Any:
    return app.extensions["stask"]


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    engine = app.extensions["stask"].db.engine
    sa.event.listen(engine, "before_cursor_execute", counter)
    yield counter
    sa.event.remove(engine, "before_cursor_execute", counter)


def run_worker(app: Flask, kind: str = "simple", **options: Any) -> None:
    """Serve the queues in this process until they are empty (RQ burst mode)."""
    from stask.engine.processes import build_worker

    worker = build_worker(app, kind=kind)
    worker.work(burst=True, logging_level="WARNING", **options)
