"""Running tasks in an in-process RQ worker, on every database: order, outcomes, retries, duplicates,
cancelled jobs, the worker cache, timeouts, signal receivers, and workers that cannot be loaded.

A registered worker whose class no longer loads, or whose constructor raises, used to escape
from the run as a bare exception: the task stayed "running" until the heartbeat check gave up on
it, ``flask stask process`` died with a traceback, and creating or retrying a task of that
worker answered HTTP 500.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status
from stask.engine.queues import job_id
from stask.exceptions import StaskError, WorkerUnavailable
from stask.models import Task, Worker
from tests.support.apps import run_worker
from tests.support.tasks import fresh, recorded, run_until_final


def test_queues_are_served_high_then_normal_then_low(app: Flask, stask: Any) -> None:
    for label, priority in [
        ("low-1", "low"),
        ("normal-1", "normal"),
        ("high-1", "high"),
        ("low-2", "low"),
        ("high-2", "high"),
        ("normal-2", "normal"),
    ]:
        stask.create("recorder", "record", data={"label": label}, priority=priority)
    run_worker(app)
    assert recorded(app) == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]


def test_a_finished_task_records_progress_message_and_metrics(app: Flask, stask: Any) -> None:
    task = stask.create("echo", "say", data={"text": "world", "steps": 4})
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.progress, row.message, row.attempts) == (Status.FINISHED, 100, "hello world", 1)
    assert row.started_at >= row.created_at and row.finished_at >= row.started_at
    assert row.wait_ms is not None and row.run_ms is not None and row.peak_memory_kb
    log = stask.runtime.storage.tail_log(task.id)
    assert [line.split("] ", 1)[1] for line in log] == [" 25% step 1", " 50% step 2", " 75% step 3", "100% step 4"]


def test_failed_attempts_are_retried_with_backoff_until_success(app: Flask, stask: Any) -> None:
    task = stask.create("flaky", "run", data={"fail_times": 2})
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    assert row.start_at is not None and row.start_at > row.started_at  # when the next attempt is due
    assert "planned failure on attempt 1" in row.error
    assert job_id(task.id, 2) in stask.runtime.transport.live_job_ids()
    stask.db.session.commit()
    row = run_until_final(app, stask, task.id)
    assert (row.status, row.attempts, row.message) == (Status.FINISHED, 3, "succeeded on attempt 3")
    assert "Traceback" in "\n".join(stask.runtime.storage.tail_log(task.id, 200))


def test_a_task_that_keeps_failing_ends_failed_after_max_attempts(app: Flask, stask: Any) -> None:
    task = stask.create("flaky", "run", data={"fail_times": 99}, max_attempts=2)
    row = run_until_final(app, stask, task.id)
    assert (row.status, row.attempts) == (Status.FAILED, 2)
    assert row.error == "RuntimeError: planned failure on attempt 2"


def test_mark_failed_does_not_retry(app: Flask, stask: Any) -> None:
    task = stask.create("flaky", "give_up")
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.error) == (Status.FAILED, 1, "nothing to do")


def test_a_job_delivered_twice_runs_once(app: Flask, stask: Any) -> None:
    task = stask.create("recorder", "record", data={"label": "once"})
    payload = stask.service.tasks.payload_for_row(stask.get_task(task.id))
    stask.runtime.transport.enqueue([payload], task.created_at)  # the same job id a second time
    stask.runtime.transport.queues["normal"].push_job_id(job_id(task.id, 1))
    assert stask.runtime.transport.queues["normal"].count == 3
    run_worker(app)
    assert recorded(app) == ["once"]
    assert fresh(stask, task.id).attempts == 1


def test_a_cancelled_tasks_job_runs_nothing(app: Flask, stask: Any) -> None:
    task = stask.create("recorder", "record", data={"label": "never"})
    stask.runtime.transport.queues["normal"].push_job_id(job_id(task.id, 1))  # a copy cancel cannot see
    stask.cancel(task.id)
    run_worker(app)
    assert recorded(app) == []
    assert fresh(stask, task.id).status == Status.CANCELLED


def test_worker_cache_counts_hits_and_is_invalidated_by_changes(app: Flask, stask: Any) -> None:
    cache = stask.runtime.workers
    cache.reset_stats()
    stask.create("echo", "noop")
    stask.create("echo", "noop")
    stats = cache.stats()
    assert (stats["misses"], stats["l1_hits"]) == (1, 1)
    stask.update_worker_settings("echo", {"greeting": "bonjour"})
    task = stask.create("echo", "say")
    assert cache.stats()["misses"] == 2
    run_worker(app)
    assert fresh(stask, task.id).message == "bonjour"


@pytest.mark.app_config(STASK_TIMEOUT=1)
def test_an_action_running_past_its_timeout_fails_the_attempt(app: Flask, stask: Any) -> None:
    assert app.config["STASK_TIMEOUT"] == 1
    task = stask.create("slow", "sleep", data={"seconds": 30}, max_attempts=1)
    started = time.monotonic()
    run_worker(app)
    assert time.monotonic() - started < 10
    row = fresh(stask, task.id)
    assert (row.status, row.error) == (Status.FAILED, "timed out after 1 s")


def test_a_failing_signal_receiver_changes_nothing_for_the_task(app: Flask, stask: Any) -> None:
    from stask import signals

    seen: list[int] = []

    def broken(sender: Any, task: dict[str, Any]) -> None:
        seen.append(task["id"])
        raise RuntimeError("a listener bug")

    signals.task_started.connect(broken)
    signals.task_finished.connect(broken)
    try:
        task = stask.create("echo", "say")
        run_worker(app)
    finally:
        signals.task_started.disconnect(broken)
        signals.task_finished.disconnect(broken)
    assert seen == [task.id, task.id]
    assert fresh(stask, task.id).status == Status.FINISHED


def test_work_an_action_leaves_uncommitted_is_committed_with_its_tasks_end(app: Flask, stask: Any) -> None:
    """The finish goes alone in autocommit (PostgreSQL) only when the session holds nothing:
    what the task path left in the session's transaction is committed with the task's end, as
    when the finish always ran in that transaction."""
    from stask import signals

    def leave_pending(sender: Any, task: dict[str, Any]) -> None:
        stask.db.session.execute(sa.update(Worker).where(Worker.identifier == "echo").values(title="left pending"))

    signals.task_started.connect(leave_pending)
    try:
        task = stask.create("echo", "say")
        run_worker(app)
    finally:
        signals.task_started.disconnect(leave_pending)
    with stask.db.engine.connect() as other:  # committed, seen from another connection
        title = other.scalar(sa.select(Worker.title).where(Worker.identifier == "echo"))
        status = other.scalar(sa.select(Task.status).where(Task.id == task.id))
    assert (title, status) == ("left pending", Status.FINISHED)


# -- workers that cannot be loaded or constructed ------------------------------------------------------
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
    point_worker_at(stask, "echo", "tests.support.bad_plugins:BrokenInit")
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
