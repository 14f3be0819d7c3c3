"""Worker processes on PostgreSQL may commit without waiting for the disk: ``STASK_WORKER_SYNC_COMMIT=false``.

A worker's commits record its own progress through tasks that already exist: a claim, an
outcome, a follow-up. On PostgreSQL each of them waits for a WAL flush by default, twice per
task: 0.2 ms on a quiet disk, 1-3 ms on the bench VM's when the disk is busy, then most of a
no-op task's cost. With ``synchronous_commit = off`` a commit returns once it is in the WAL
buffers and is flushed within ``3 x wal_writer_delay`` (600 ms by default). A crash of the
database server or its machine in that window loses the newest of those changes as a unit
(the WAL is one sequence: what survives is the state at an earlier instant, never a torn
one), and the reconcile pass repairs them as it repairs any crashed worker: a claim that
vanished leaves a queued row whose job is gone (queued again), an outcome that vanished
leaves a running row whose heartbeat stops (retried within its attempts). So after such a
crash a task may run again: at least once, as after any crash. Tasks created by the web app,
the API, the CLI or code outside a worker still commit synchronously: an acknowledged task is
never lost. That is the durability SQLite has here (WAL with ``synchronous=NORMAL``). MariaDB
has no per-session switch (``innodb_flush_log_at_trx_commit`` is global), so it is left alone.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa

#: Engines whose connections already get the setting.
_RELAXED: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def relax(engine: sa.Engine) -> bool:
    """Give ``engine``'s connections ``synchronous_commit = off`` (PostgreSQL only); True if it did.

    Connections already in the pool are dropped, so every connection this process uses from
    now on has the setting (one statement per new connection, none per task).
    """
    if engine.dialect.name != "postgresql" or engine in _RELAXED:
        return False

    @sa.event.listens_for(engine, "connect")
    def _without_flush_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET synchronous_commit TO off")
        finally:
            cursor.close()
        dbapi_connection.commit()

    _RELAXED.add(engine)
    engine.dispose()  # pooled connections predate the listener: new ones replace them
    return True
