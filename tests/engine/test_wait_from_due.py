"""A task's wait counts from when it became due (its ``start_at``, or its retry's), never from its
creation: a task scheduled for later and run right when due, or retried long after it was created,
has waited a moment, and the p95 wait of the summary says so too."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import Flask

from stask import Status
from stask.models import utcnow
from stask.monitoring.metrics import summary
from tests.support.apps import run_worker
from tests.support.tasks import fresh

#: How long after its creation the task becomes due; a wait counted from creation is at least this.
LATER = timedelta(seconds=2)
#: A wait counted from the due time: the sleep's overshoot plus one claim, on any database.
SMALL_MS = 1000


def sleep_until(moment: Any) -> None:
    time.sleep(max(0.0, (moment - utcnow()).total_seconds()) + 0.05)


def test_a_task_run_when_due_has_waited_a_moment(app: Flask) -> None:
    stask: Any = app.extensions["stask"]
    task = stask.create("echo", "noop", start_at=utcnow() + LATER)
    created_at, start_at = fresh(stask, task.id).created_at, fresh(stask, task.id).start_at
    assert start_at - created_at >= LATER - timedelta(milliseconds=50)
    assert stask.process_pending_tasks() == 0  # not due yet: nothing runs early
    sleep_until(start_at)
    assert stask.process_pending_tasks() == 1
    row = fresh(stask, task.id)
    assert row.status == Status.FINISHED
    assert row.wait_ms is not None and row.wait_ms < SMALL_MS, row.wait_ms
    assert summary(stask.db.session, 1)["wait_ms"]["p95"] < SMALL_MS


def test_a_retried_task_waits_from_its_retry(app: Flask) -> None:
    stask: Any = app.extensions["stask"]
    task = stask.create("flaky", "give_up")
    run_worker(app)
    assert fresh(stask, task.id).status == Status.FAILED
    time.sleep(LATER.total_seconds())
    retried_at = utcnow()
    stask.retry(task.id)
    row = fresh(stask, task.id)
    assert row.start_at is not None and row.start_at >= retried_at - timedelta(milliseconds=50)
    run_worker(app)
    row = fresh(stask, task.id)
    assert row.attempts == 2 and row.started_at - row.created_at >= LATER
    assert row.wait_ms is not None and row.wait_ms < SMALL_MS, row.wait_ms
