"""Worker processes ride out Redis and database outages, and give up (non-zero) only past
``STASK_OUTAGE_GRACE``. Real ``flask stask worker`` processes, a Redis of the test's own that is
stopped and started again on the same port, and the session's PostgreSQL database made to refuse
connections for a while (the server itself keeps running for everyone else).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from stask.engine.outages import EXIT_OUTAGE
from tests.support.fault_plugins import FAULT_WORKERS, port_of, postgres_refusing, spawn, start_on_port, worker_log
from tests.support.servers import Databases, RedisServer
from tests.support.tasks import fresh
from tests.support.waiting import wait_for
from tests.support.workers import stop

GRACE = "60"


def final_row(stask: Any, task_id: int, timeout: float = 30) -> Any:
    def ended() -> Any:
        row = fresh(stask, task_id)
        status = Status(row.status)
        stask.db.session.commit()
        return status.is_final

    wait_for(ended, timeout=timeout, interval=0.2, what=f"task {task_id} to end")
    return fresh(stask, task_id)


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_a_worker_waits_out_a_redis_outage_and_serves_again(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer, kind: str
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url)
    stask = app.extensions["stask"]
    worker = spawn(app, kind, STASK_OUTAGE_GRACE=GRACE)
    try:
        with app.app_context():
            first = stask.create("echo", "say", data={"steps": 1})
            assert final_row(stask, first.id).status == Status.FINISHED
            port = port_of(stoppable_redis)
            stoppable_redis.stop()
            time.sleep(4)  # the worker meets the outage while waiting for a job (and maintaining)
            assert worker.poll() is None, worker_log(app)
            start_on_port(stoppable_redis, port)  # an empty Redis, as after a restart without persistence
            second = stask.create("echo", "say", data={"steps": 1})
            row = final_row(stask, second.id)
            assert (row.status, row.attempts) == (Status.FINISHED, 1)
            assert worker.poll() is None, worker_log(app)
    finally:
        stop(worker)
    log = worker_log(app)
    assert "unhandled exception" not in log
    assert log.count("waiting and retrying") <= 3, log  # one line per outage, not one per try


def test_a_worker_exits_non_zero_once_an_outage_outlasts_the_grace(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url)
    worker = spawn(app, "simple", STASK_OUTAGE_GRACE="2")
    try:
        wait_for(lambda: b"Listening" in Path(app.config["STASK_STORAGE"], "worker.log").read_bytes(), timeout=20)
        stoppable_redis.stop()
        status = worker.wait(timeout=30)
    finally:
        stop(worker)
    assert status == EXIT_OUTAGE, worker_log(app)  # a restart-on-failure supervisor starts it again


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_an_outcome_reached_during_a_database_outage_is_recorded_when_it_returns(
    make_app: Callable[..., Flask], databases: Databases, tmp_path: Path, kind: str
) -> None:
    app = make_app("postgresql", discover=True)
    stask = app.extensions["stask"]
    marker = tmp_path / "ran"
    worker = spawn(app, kind, STASK_OUTAGE_GRACE=GRACE)
    try:
        with app.app_context():
            task = stask.create("slow", "sleep", data={"seconds": 1.5, "marker": str(marker)})
            stask.db.session.commit()
            wait_for(marker.exists, timeout=20, what="the task to start")
            with postgres_refusing(databases):
                time.sleep(5)  # the action ends meanwhile; the worker cannot record it (nor reconcile)
                assert worker.poll() is None, worker_log(app)
            for engine in stask.db.engines.values():
                engine.dispose()  # this test's own connections were cut too
            row = final_row(stask, task.id)
            assert (row.status, row.attempts, row.message) == (Status.FINISHED, 1, "woke up")
            assert worker.poll() is None, worker_log(app)
    finally:
        stop(worker)
    assert len(marker.read_text().splitlines()) == 1  # run once: not lost, not run again


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_a_worker_started_while_redis_is_down_waits_for_it(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer, kind: str
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url)
    stask = app.extensions["stask"]
    port = port_of(stoppable_redis)
    stoppable_redis.stop()
    worker = spawn(app, kind, STASK_OUTAGE_GRACE=GRACE)  # registration and the scheduler's lock meet the outage
    try:
        time.sleep(4)
        assert worker.poll() is None, worker_log(app)
        start_on_port(stoppable_redis, port)
        with app.app_context():
            task = stask.create("echo", "say", data={"steps": 1})
            row = final_row(stask, task.id)
            assert (row.status, row.attempts) == (Status.FINISHED, 1)
        assert worker.poll() is None, worker_log(app)
    finally:
        stop(worker)


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_an_action_that_ends_while_redis_is_down_runs_once(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer, tmp_path: Path, kind: str
) -> None:
    """Redis goes away while the action runs and comes back after it ended: one run, recorded."""
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url, STASK_WORKERS=FAULT_WORKERS)
    stask = app.extensions["stask"]
    runs, gate = tmp_path / "runs", tmp_path / "gate"
    worker = spawn(app, kind, STASK_OUTAGE_GRACE=GRACE)
    try:
        with app.app_context():
            task = stask.create("gate", "wait", data={"runs": str(runs), "gate": str(gate)})
            wait_for(runs.exists, timeout=30, what="the action to start")
            port = port_of(stoppable_redis)
            stoppable_redis.stop()
            gate.touch()  # the action ends while Redis is down
            time.sleep(3)
            start_on_port(stoppable_redis, port)  # empty, as after a restart without persistence
            row = final_row(stask, task.id, timeout=60)
            assert (row.status, row.attempts) == (Status.FINISHED, 1), worker_log(app)
            time.sleep(4)  # a wrongly judged attempt would be retried within the reconcile interval
            assert runs.read_text().splitlines() == [f"{task.id} 1"], worker_log(app)
            assert worker.poll() is None, worker_log(app)
    finally:
        stop(worker)
