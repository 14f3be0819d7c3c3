"""Pooled connections are pinged only after resting in the pool (stask.engine.idle_ping).

The worker checks a connection out twice per task; a ping at each checkout cost a round trip
each time. One that rested for ``IDLE_PING_SECONDS`` may have been cut meanwhile (a database
restart while the worker waited for jobs): it is pinged and replaced, as ``pool_pre_ping`` did.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.engine.idle_ping import IDLE_PING_SECONDS


def _backend_pid(connection: sa.Connection) -> int:
    query = "SELECT pg_backend_pid()" if connection.dialect.name == "postgresql" else "SELECT CONNECTION_ID()"
    return int(connection.scalar(sa.text(query)) or 0)


def _kill(engine: sa.Engine, pid: int) -> None:
    """End the server side of connection ``pid`` from a connection outside the app's pool."""
    outside = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with outside.connect() as admin:
        if admin.dialect.name == "postgresql":
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            admin.execute(sa.text(f"KILL {pid}"))
        admin.commit()
    outside.dispose()


#: SQLite has no server connection to lose or to ping.
SERVERS = pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)


@SERVERS
def test_a_connection_cut_while_it_rested_is_replaced_at_checkout(app: Flask, backend: str) -> None:
    engine: sa.Engine = app.extensions["stask"].db.engine
    engine.dispose()
    with engine.connect() as connection:
        pid = _backend_pid(connection)
    _kill(engine, pid)  # the pooled connection is dead now, and the pool cannot know
    time.sleep(IDLE_PING_SECONDS + 0.2)
    with engine.connect() as connection:
        assert _backend_pid(connection) != pid
        assert connection.scalar(sa.text("SELECT 1")) == 1


@SERVERS
def test_a_connection_used_a_moment_ago_is_not_pinged(app: Flask, backend: str, monkeypatch: Any) -> None:
    engine: sa.Engine = app.extensions["stask"].db.engine
    pings: list[int] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi: pings.append(1) or real(dbapi))
    for _ in range(5):
        with engine.connect() as connection:
            connection.scalar(sa.text("SELECT 1"))
    assert pings == []
