"""A forking worker opens its next work horse's Redis connection while the current one runs.

The guarantees: a horse sends its outcome on the connection its parent made ready (it greets
Redis no more), the parent's copy of that socket is closed without shutting the horse's
connection down, and a connection that went stale in between is replaced in the horse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.connection
from flask import Flask

from stask import Status
from stask.engine.horse_redis import NextHorseConnection
from stask.engine.processes import StaskForkWorker, build_worker
from stask.runtime import redis_client
from tests.support.tasks import fresh


@pytest.fixture
def connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A file naming the process of every Redis connection opened (one line each)."""
    log = tmp_path / "connects"
    connect = redis.connection.AbstractConnection.connect

    def logged(self: Any, *args: Any, **kwargs: Any) -> None:
        if self._sock is None:
            with open(log, "a") as out:
                out.write(f"{os.getpid()}\n")
        connect(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", logged)
    yield log


#: Where the forked child writes the CLIENT ID of the connection it used.
HORSE_CLIENT_KEY = "stask-test:horse-client"


@pytest.fixture
def made_ready(redis_url: str) -> Iterator[tuple[redis.Redis, NextHorseConnection, int]]:
    """A client, the connection made ready for its next child, and that connection's CLIENT ID."""
    client = redis_client(redis_url)
    ready = NextHorseConnection(client)
    try:
        ready.make_ready()
        connection = ready._ready
        assert connection is not None
        connection.send_command("CLIENT", "ID")
        yield client, ready, int(connection.read_response())
    finally:
        ready.close()
        client.delete(HORSE_CLIENT_KEY)
        client.close()


def _forked(client: redis.Redis, ready: NextHorseConnection) -> int:
    """Fork a child that adopts the ready connection, sets :data:`HORSE_CLIENT_KEY` to its CLIENT
    ID, and exits; the parent hands the connection over before the child goes on. The child's
    exit status."""
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child exits through os._exit)
        code = 1
        try:
            ready.adopt()
            os.read(go_read, 1)  # the parent has closed its copy
            client.set(HORSE_CLIENT_KEY, client.client_id())
            code = 0
        finally:
            os._exit(code)
    ready.hand_over(pid)
    os.write(go_write, b"1")
    os.close(go_read)
    os.close(go_write)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_horse_uses_the_connection_its_parent_made_ready(
    made_ready: tuple[redis.Redis, NextHorseConnection, int],
) -> None:
    client, ready, expected = made_ready
    assert _forked(client, ready) == 0
    # the same connection, alive after the parent closed its copy: no shutdown, no reconnect
    assert int(client.get(HORSE_CLIENT_KEY) or 0) == expected
    assert ready._ready is None


def test_a_ready_connection_that_went_stale_is_replaced_in_the_horse(
    made_ready: tuple[redis.Redis, NextHorseConnection, int],
) -> None:
    client, ready, stale = made_ready
    client.client_kill_filter(_id=str(stale))  # as a Redis restart or its idle timeout would
    assert _forked(client, ready) == 0
    assert int(client.get(HORSE_CLIENT_KEY) or 0) not in (0, stale)


def test_forking_workers_horses_greet_redis_no_more(
    sqlite_app: Flask, connects: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connection of a burst is opened by the worker process: each horse took the one its
    parent opened while the previous horse ran (the first: before its fork)."""
    stask = sqlite_app.extensions["stask"]
    ready_while_horse_runs = []
    monitor = StaskForkWorker.monitor_work_horse

    def watched(self: StaskForkWorker, *args: Any) -> None:
        ready_while_horse_runs.append(self._next_horse_redis._ready is not None)
        monitor(self, *args)

    monkeypatch.setattr(StaskForkWorker, "monitor_work_horse", watched)
    with sqlite_app.app_context():
        ids = [task.id for task in stask.create_many([{"identifier": "echo", "action": "noop"}] * 4)]
        connects.write_text("")
        build_worker(sqlite_app, kind="fork").work(burst=True, logging_level="WARNING")
        assert [fresh(stask, task_id).status for task_id in ids] == [Status.FINISHED] * 4
    assert ready_while_horse_runs == [True] * 4  # the next horse's, opened once this one was forked
    pids = connects.read_text().split()
    assert pids and set(pids) == {str(os.getpid())}, pids
