"""Groups: one status, counts and one progress bar; their callback is created once when the last
member ends, whatever the number of worker processes. Chains: each step sees its parent."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status, Task
from stask.exceptions import InvalidState, StaskError
from stask.models import TaskGroup
from tests.support.apps import redis_of, run_worker
from tests.support.tasks import fresh
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop
from tests.workflows.plugins import FLOW_WORKERS, order, seen

pytestmark = pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS)


def steps(*labels: str) -> list[dict[str, Any]]:
    return [{"identifier": "flow", "action": "step", "data": {"label": label}} for label in labels]


def callbacks(stask: Any, label: str) -> int:
    session = stask.db.session
    count = session.scalar(sa.select(sa.func.count()).select_from(Task).where(Task.data["label"].as_string() == label))
    session.commit()
    return int(count or 0)


def test_a_group_ends_finished_and_fires_on_complete_once(app: Flask, stask: Any) -> None:
    group = stask.group(steps("a", "b", "c"), name="three", on_complete=steps("done")[0], on_failure=steps("oops")[0])
    view = stask.get_group(group.id)
    assert (view.group.status, view.progress, view.counts["queued"]) == ("running", 0, 3)
    run_worker(app)
    view = stask.get_group(group.id)
    assert view.group.status == "finished" and view.progress == 100 and view.counts["finished"] == 3
    assert view.group.ended_at is not None and view.started_at is not None
    assert order(redis_of(app))[-1] == "done"
    assert view.group.on_failure_task_id is None
    assert fresh(stask, view.group.on_complete_task_id).status == Status.FINISHED
    with pytest.raises(InvalidState):
        stask.retry_failed_in_group(group.id)


def test_a_failed_member_fails_the_group_and_retry_failed_reopens_it(app: Flask, stask: Any) -> None:
    specs = [*steps("a"), {"identifier": "flow", "action": "fail"}]
    group = stask.group(specs, on_complete=steps("done")[0], on_failure=steps("oops")[0])
    run_worker(app)
    view = stask.get_group(group.id)
    assert view.group.status == "failed" and view.counts["failed"] == 1
    assert order(redis_of(app))[-1] == "oops"
    retried = stask.retry_failed_in_group(group.id)
    assert len(retried) == 1
    assert stask.get_group(group.id).group.status == "running"
    run_worker(app)
    view = stask.get_group(group.id)
    assert view.group.status == "failed"
    assert callbacks(stask, "oops") == 1  # the callback of each kind is created at most once


def test_cancelling_a_group_cancels_its_members_and_fires_on_failure(stask: Any) -> None:
    group = stask.group(steps("a", "b"), on_failure=steps("oops")[0])
    cancelled, stopping = stask.cancel_group(group.id)
    assert len(cancelled) == 2 and stopping == []
    view = stask.get_group(group.id)
    assert view.group.status == "cancelled" and view.counts["cancelled"] == 2
    assert view.group.on_failure_task_id is not None


def test_bad_group_input_stores_nothing(stask: Any) -> None:
    for kwargs in (
        {"specs": []},
        {"specs": [{"identifier": "flow", "action": "nope"}]},
        {"specs": steps("a"), "on_complete": {"identifier": "flow", "action": "nope"}},
        {"specs": [{"identifier": "flow", "action": "step", "depends_on": [1]}]},
        {"specs": steps("a"), "name": ""},
    ):
        with pytest.raises(StaskError):
            stask.group(**kwargs)
    session = stask.db.session
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskGroup)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_a_chain_runs_in_order_and_each_step_sees_its_parent(app: Flask, stask: Any) -> None:
    ids = stask.chain(steps("one", "two", "three"))
    run_worker(app)
    connection = redis_of(app)
    assert order(connection) == ["one", "two", "three"]
    assert [p["id"] for p in seen(connection, "three")] == [ids[1]]
    assert seen(connection, "three")[0]["result"].endswith("two.txt")


def test_a_chain_stops_at_a_failed_step(app: Flask, stask: Any) -> None:
    ids = stask.chain([*steps("one"), {"identifier": "flow", "action": "fail"}, *steps("three")])
    run_worker(app)
    assert [fresh(stask, i).status for i in ids] == [80, 100, 90]


def test_a_group_of_1000_under_4_worker_processes_fires_on_complete_once(app: Flask, stask: Any) -> None:
    specs = [{"identifier": "echo", "action": "noop"} for _ in range(1000)]
    group = stask.group(specs, name="thousand", on_complete=steps("done")[0], on_failure=steps("oops")[0])
    workers = [spawn_worker(app, "simple") for _ in range(4)]
    try:
        wait_for(
            lambda: (
                callbacks(stask, "done") and fresh(stask, stask.get_group(group.id).group.on_complete_task_id).is_final
            ),
            timeout=120,
            interval=0.5,
            what="the group to end and its callback to run",
        )
    finally:
        for worker in workers:
            stop(worker)
    view = stask.get_group(group.id)
    assert view.group.status == "finished" and view.progress == 100 and view.counts["finished"] == 1000
    assert callbacks(stask, "done") == 1 and callbacks(stask, "oops") == 0
    last_end = stask.db.session.scalar(sa.select(sa.func.max(Task.finished_at)).where(Task.group_id == group.id))
    assert fresh(stask, view.group.on_complete_task_id).created_at >= last_end  # created by the last end
