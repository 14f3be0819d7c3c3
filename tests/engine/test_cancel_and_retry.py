"""Cancelling and retrying tasks that already ended (in-process worker)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.apps import run_worker
from tests.support.tasks import fresh


def test_cancel_refuses_tasks_that_already_ended(sqlite_app: Flask) -> None:
    from stask.exceptions import InvalidState

    stask = sqlite_app.extensions["stask"]
    task = stask.create("echo", "noop")
    run_worker(sqlite_app)
    with pytest.raises(InvalidState, match="already finished"):
        stask.cancel(task.id)
    with pytest.raises(InvalidState, match="only failed or cancelled"):
        stask.retry(task.id)


def test_retry_gives_a_failed_task_new_attempts(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    task = stask.create("flaky", "give_up")
    run_worker(sqlite_app)
    assert fresh(stask, task.id).status == Status.FAILED
    stask.retry(task.id)
    row = fresh(stask, task.id)
    assert (row.status, row.error, row.max_attempts) == (Status.QUEUED, None, 1 + 3)
    run_worker(sqlite_app)
    assert fresh(stask, task.id).attempts == 2
