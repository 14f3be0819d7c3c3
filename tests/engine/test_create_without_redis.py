"""``create``, ``create_many``, the API and ``flask stask create`` store the row while Redis is down,
even with a cold worker cache; once Redis is back, reconcile enqueues the rows and a worker runs them."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from stask import Status
from stask.embedded import redis_binary
from stask.exceptions import InactiveWorker
from stask.models import Task
from stask.service import current_stask
from tests.support.api import ADMIN, AUTH_CONFIG
from tests.support.apps import run_worker
from tests.support.servers import RedisServer
from tests.support.waiting import wait_for


@pytest.fixture
def restart_redis(stoppable_redis: RedisServer, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Starts a redis-server again on the stopped one's port (empty: a restart loses the queues)."""
    started: list[subprocess.Popen[bytes]] = []
    port = stoppable_redis.url.rsplit(":", 1)[1].split("/")[0]

    def restart() -> None:
        folder = tmp_path / "restarted-redis"
        folder.mkdir(exist_ok=True)
        options = ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
        started.append(subprocess.Popen([redis_binary(), *options], stdout=subprocess.DEVNULL, start_new_session=True))
        with redis.Redis.from_url(stoppable_redis.url) as client:
            wait_for(lambda: _pings(client), timeout=10, what="the restarted Redis")

    yield restart
    for process in started:  # by the pid this fixture started, never any other Redis
        process.terminate()
        process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def stored(stask: Any, ids: list[int]) -> list[int]:
    """The statuses of these rows, read fresh from SQL."""
    stask.db.session.expire_all()
    return [stask.db.session.get(Task, task_id).status for task_id in ids]


def test_create_and_create_many_store_the_rows_and_run_once_redis_is_back(
    backend: str,
    make_app: Callable[..., Flask],
    stoppable_redis: RedisServer,
    restart_redis: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(backend, discover=True, redis_url=stoppable_redis.url)
    assert app.extensions["stask.runtime"].workers.stats()["l1_size"] == 0  # cold: nothing looked up yet
    stoppable_redis.stop()
    with app.app_context():
        stask = app.extensions["stask"]
        logger = logging.getLogger("stask")
        level = logger.level
        logger.addHandler(caplog.handler)  # stask's logger may not propagate, nor have this level
        logger.setLevel(logging.WARNING)
        try:
            one = stask.create("echo", "say", data={"steps": 0, "text": "kept"})
            many = stask.create_many([{"identifier": "echo", "action": "noop"}] * 3)
            again = stask.create("echo", "noop")
        finally:
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
        ids = [one.id, *(t.id for t in many), again.id]
        assert stored(stask, ids) == [Status.QUEUED] * 5
        unreachable = {id(r) for r in caplog.records if "worker cache: Redis unreachable" in r.getMessage()}
        assert len(unreachable) == 1, "the cache logs an outage once"
        stask.runtime.workers.flush()  # counting without Redis keeps the counts, never raises

        restart_redis()
        assert current_stask().recovery.reconcile(grace=0)["requeued"] == 5
        run_worker(app)
        assert stored(stask, ids) == [Status.FINISHED] * 5
        assert stask.get_task(one.id).message == "hello kept"
        stask.db.session.remove()


def test_the_api_and_the_cli_store_the_row_without_redis(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer, restart_redis: Callable[[], None]
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url, **AUTH_CONFIG)
    stoppable_redis.stop()
    response = app.test_client().post("/stask/api/tasks", json={"identifier": "echo", "action": "noop"}, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    api_id = response.get_json()["task"]["id"]
    result = app.test_cli_runner().invoke(args=["stask", "create", "echo", "noop"])
    assert result.exit_code == 0, result.output
    cli_id = int(result.output.strip().splitlines()[-1])
    with app.app_context():
        stask = app.extensions["stask"]
        assert stored(stask, [api_id, cli_id]) == [Status.QUEUED] * 2
        restart_redis()
        assert current_stask().recovery.reconcile(grace=0)["requeued"] == 2
        run_worker(app)
        assert stored(stask, [api_id, cli_id]) == [Status.FINISHED] * 2
        stask.db.session.remove()


def test_a_change_made_while_redis_was_down_is_seen_once_it_is_back(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer, restart_redis: Callable[[], None]
) -> None:
    """The change cannot bump the version then; the process that saw the outage bumps it after.

    The restarted Redis is given back the version and the cached entry of before, as a Redis
    that was only unreachable (not restarted) would still hold them.
    """
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url)
    with app.app_context():
        stask = app.extensions["stask"]
        runtime = stask.runtime
        stask.create("echo", "noop")  # echo cached as active (L1 and L2)
        version = runtime.redis.get(runtime.keys.workers_version)
        cached = runtime.cache.get("worker:echo")
        stoppable_redis.stop()
        stask.deactivate_worker("echo")  # committed; telling Redis fails, and must not raise
        restart_redis()
        runtime.redis.set(runtime.keys.workers_version, version)
        runtime.cache.set("worker:echo", cached)
        with pytest.raises(InactiveWorker):
            stask.create("echo", "noop")
        stask.db.session.remove()
