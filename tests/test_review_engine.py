"""A registered worker whose class no longer loads, or whose constructor raises.

Both used to escape from the run as a bare exception: the task stayed "running" until the
heartbeat check gave up on it, ``flask stask process`` died with a traceback, and creating
or retrying a task of that worker answered HTTP 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from stask import BaseWorker
from stask.enums import Status
from stask.exceptions import StaskError, WorkerUnavailable
from stask.models import Task, Worker


class BrokenInit(BaseWorker):
    identifier = "echo"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cannot connect to the mail server")

    def task_say(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished("never")


def point_worker_at(stask: Any, identifier: str, class_path: str) -> None:
    stask.db.session.execute(sa.update(Worker).where(Worker.identifier == identifier).values(class_path=class_path))
    stask.db.session.commit()
    stask.runtime.workers.invalidate()


def test_task_of_a_worker_that_no_longer_imports_fails_cleanly(stask: Any) -> None:
    task = stask.create("echo", "say", max_attempts=1)
    point_worker_at(stask, "echo", "tests.no_such_module:Gone")
    assert stask.process_pending_tasks() == 0
    stask.db.session.expire_all()
    row = stask.get_task(task.id)
    assert row.status == Status.FAILED
    assert "cannot be loaded" in row.error and "no_such_module" in row.error
    assert row.finished_at is not None
    assert any("cannot be loaded" in line for line in stask.runtime.storage.tail_log(task.id))


def test_an_unloadable_worker_keeps_its_retries(stask: Any) -> None:
    task = stask.create("echo", "say", max_attempts=2)
    point_worker_at(stask, "echo", "tests.no_such_module:Gone")
    stask.process_pending_tasks()
    stask.db.session.expire_all()
    row = stask.get_task(task.id)
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    assert row.start_at is not None and "cannot be loaded" in row.error


def test_a_constructor_that_raises_fails_the_attempt(stask: Any) -> None:
    task = stask.create("echo", "say", max_attempts=1)
    point_worker_at(stask, "echo", "tests.test_review_engine:BrokenInit")
    assert stask.process_pending_tasks() == 0
    stask.db.session.expire_all()
    row = stask.get_task(task.id)
    assert row.status == Status.FAILED
    assert row.error == "RuntimeError: cannot connect to the mail server"
    assert any("Traceback" in line for line in stask.runtime.storage.tail_log(task.id, 100))


def test_creating_or_retrying_for_an_unloadable_worker_is_a_stask_error(stask: Any) -> None:
    task = stask.create("flaky", "give_up")
    stask.process_pending_tasks()
    point_worker_at(stask, "flaky", "tests.no_such_module:Gone")
    with pytest.raises(WorkerUnavailable) as raised:
        stask.create("flaky", "give_up")
    assert isinstance(raised.value, StaskError) and raised.value.http_status == 409
    with pytest.raises(WorkerUnavailable):
        stask.retry(task.id)
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 1
    stask.db.session.expire_all()
    assert stask.get_task(task.id).status == Status.FAILED
