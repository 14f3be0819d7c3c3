"""How reconcile judges running attempts: a lapsed heartbeat ends the attempt (retry, fail, or cancel
when a stop was asked); a fresh heartbeat, or a start younger than the TTL, leaves it alone.

The in-process tests craft the running row the way a worker that died would leave it; the last
one runs a real worker process whose task lives past the TTL on its heartbeats.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status, Task
from stask.engine.queues import job_id
from stask.models import utcnow
from tests.support.apps import redis_of
from tests.support.blocking_plugins import BLOCKING_WORKERS, release
from tests.support.tasks import fresh, task_status
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


def running_row(stask: Any, started_ago: float, max_attempts: int = 3) -> int:
    """A task whose attempt 1 started ``started_ago`` seconds ago in a process that is gone."""
    task = stask.create("echo", "noop", max_attempts=max_attempts)
    stask.runtime.transport.discard([job_id(task.id, 1)])
    stask.db.session.execute(
        sa.update(Task)
        .where(Task.id == task.id)
        .values(status=int(Status.RUNNING), attempts=1, started_at=utcnow() - timedelta(seconds=started_ago))
    )
    stask.db.session.commit()
    return int(task.id)


def test_a_lapsed_heartbeat_ends_the_attempt_and_schedules_the_next(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task_id = running_row(stask, started_ago=60)
    assert stask.reconcile(grace=0) == {"requeued": 0, "recovered": 1}
    row = fresh(stask, task_id)
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    assert row.error == f"worker process died: no heartbeat for {sqlite_app.config['STASK_HEARTBEAT_TTL']} s"
    assert job_id(task_id, 2) in stask.runtime.transport.live_job_ids()
    assert stask.reconcile(grace=0)["recovered"] == 0  # judged once


def test_a_lapsed_heartbeat_on_the_last_attempt_fails_the_task(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task_id = running_row(stask, started_ago=60, max_attempts=1)
    assert stask.reconcile(grace=0)["recovered"] == 1
    row = fresh(stask, task_id)
    assert row.status == Status.FAILED and row.error.startswith("worker process died")


def test_a_lapsed_heartbeat_after_a_stop_request_cancels(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task_id = running_row(stask, started_ago=60)
    stask.runtime.live.request_stop(task_id)
    assert stask.reconcile(grace=0)["recovered"] == 1
    row = fresh(stask, task_id)
    assert (row.status, row.message) == (Status.CANCELLED, "Stopped on request")
    assert not stask.runtime.live.stop_requested(task_id)


def test_a_fresh_heartbeat_keeps_the_attempt(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task_id = running_row(stask, started_ago=60)
    redis_of(sqlite_app).set(stask.runtime.keys.heartbeat(task_id), 1, ex=30)
    assert stask.reconcile(grace=0)["recovered"] == 0
    assert task_status(stask, task_id) == Status.RUNNING


def test_an_attempt_younger_than_the_ttl_needs_no_heartbeat_yet(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task_id = running_row(stask, started_ago=0)  # short tasks never write one (ttl / 3 before the first beat)
    assert stask.reconcile(grace=0)["recovered"] == 0
    assert task_status(stask, task_id) == Status.RUNNING


@pytest.mark.app_config(STASK_WORKERS=BLOCKING_WORKERS)
def test_a_task_running_past_the_ttl_in_a_live_worker_is_left_alone(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    ttl = sqlite_app.config["STASK_HEARTBEAT_TTL"]
    task = stask.create("blocking", "hold")
    worker = spawn_worker(sqlite_app, "simple")
    try:

        def past_the_ttl() -> bool:
            row = fresh(stask, task.id)
            started = row.started_at
            stask.db.session.commit()
            return row.status == Status.RUNNING and utcnow() - started > timedelta(seconds=ttl + 1)

        wait_for(past_the_ttl, timeout=ttl + 20, interval=0.2, what="the task to run longer than the heartbeat TTL")
        assert stask.reconcile(grace=0)["recovered"] == 0  # its heartbeat thread keeps it alive
        assert task_status(stask, task.id) == Status.RUNNING
        release(redis_of(sqlite_app), task.id)
        wait_for(lambda: Status(task_status(stask, task.id)).is_final, what="the released task to end")
    finally:
        stop(worker)
    row = fresh(stask, task.id)
    assert (row.status, row.attempts) == (Status.FINISHED, 1)
