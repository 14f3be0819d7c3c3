"""Why is this task not running: the first reason that holds, computed when read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from stask.models import utcnow
from tests.support.apps import run_worker
from tests.workflows.plugins import FLOW_WORKERS

pytestmark = pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS)


@pytest.fixture
def live_worker(app: Flask) -> Iterator[None]:
    """A worker process registered in Redis on every queue (as ``flask stask worker`` registers)."""
    from stask.engine.processes import build_worker

    worker = build_worker(app, kind="simple")
    worker.register_birth()
    try:
        yield
    finally:
        worker.register_death()
        worker.connection.delete(worker.key)
        worker.connection.srem("rq:workers", worker.key)
        for queue in worker.queues:
            worker.connection.srem(f"rq:workers:{queue.name}", worker.key)


def test_no_reason_once_not_queued(app: Flask, stask: Any) -> None:
    task = stask.create("flow", "step")
    run_worker(app)
    assert stask.waiting_reason(task.id) is None


def test_waiting_on_parents_names_them(stask: Any) -> None:
    a = stask.create("flow", "step")
    b = stask.create("flow", "step")
    child = stask.create("flow", "step", depends_on=[a.id, b.id])
    reason = stask.waiting_reason(child.id)
    assert reason["code"] == "parents" and reason["parents"] == [a.id, b.id]
    assert f"{a.id}, {b.id}" in reason["message"]


@pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS, STASK_BACKOFF_BASE=600, STASK_BACKOFF_CAP=600)
def test_scheduled_and_retry_backoff_are_told_apart(app: Flask, stask: Any) -> None:
    later = utcnow() + timedelta(hours=1)
    scheduled = stask.create("flow", "step", start_at=later.isoformat())
    reason = stask.waiting_reason(scheduled.id)
    assert reason["code"] == "scheduled" and reason["until"] == later.isoformat() + "Z"
    flaky = stask.create("flaky", "run", data={"fail_times": 5})
    run_worker(app)  # the first attempt fails; the next waits for its backoff
    reason = stask.waiting_reason(flaky.id)
    assert reason["code"] == "retry" and reason["attempt"] == 2 and reason["until"]


def test_an_inactive_worker_then_no_worker_process_then_the_queue(stask: Any, live_worker: None) -> None:
    first = stask.create("flow", "step")
    second = stask.create("flow", "step")
    high = stask.create("flow", "step", priority="high")
    stask.deactivate_worker("flow")
    assert stask.waiting_reason(second.id)["code"] == "worker_inactive"
    stask.activate_worker("flow")
    reason = stask.waiting_reason(second.id)
    assert reason["code"] == "queue" and reason["ahead"] == 2  # the high one, then the older one
    assert stask.waiting_reason(high.id)["ahead"] == 0
    assert stask.waiting_reason(first.id)["ahead"] == 1


def test_no_live_worker_process(stask: Any) -> None:
    task = stask.create("flow", "step", priority="low")
    reason = stask.waiting_reason(task.id)
    assert reason == {
        "code": "no_worker",
        "message": "no live worker process serves the 'low' queue: start `flask stask worker`",
        "queue": "low",
    }
