"""Dependencies: a dependent waits, queued and without a job, until its parents end; then it runs
once, or is cancelled with the reason, by the path that recorded the last parent's end."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status, Task
from stask.engine.queues import job_id
from stask.exceptions import InvalidInput, TaskNotFound
from stask.models import TaskDependency
from tests.support.apps import redis_of, run_worker
from tests.support.tasks import fresh
from tests.workflows.plugins import FLOW_WORKERS, order, seen

pytestmark = pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS)


def step(stask: Any, label: str, **options: Any) -> Any:
    return stask.create("flow", "step", data={"label": label}, **options)


def live_jobs(stask: Any) -> set[str]:
    return stask.runtime.transport.live_job_ids()


def test_a_diamond_runs_its_last_task_once_after_both_middle_ones(app: Flask, stask: Any) -> None:
    a = step(stask, "A")
    b = step(stask, "B", depends_on=[a.id])
    c = step(stask, "C", depends_on=[a.id])
    d = step(stask, "D", depends_on=[b.id, c.id])
    assert (b.waiting_parents, d.waiting_parents) == (1, 2)
    assert live_jobs(stask) == {job_id(a.id, 1)}  # the dependents wait without a job
    run_worker(app)
    connection = redis_of(app)
    ran = order(connection)
    assert ran[0] == "A" and sorted(ran[1:3]) == ["B", "C"] and ran[3:] == ["D"]
    assert all(fresh(stask, t.id).status == Status.FINISHED for t in (a, b, c, d))
    parents = seen(connection, "D")
    assert [p["id"] for p in parents] == [b.id, c.id]
    assert parents[0]["status"] == Status.FINISHED and parents[0]["result"].endswith("B.txt")
    assert open(parents[0]["result"]).read() == "B"
    assert seen(connection, "A") == []


def test_a_failed_parent_cancels_its_dependents_with_the_reason_recursively(app: Flask, stask: Any) -> None:
    a = stask.create("flow", "fail")
    b = step(stask, "B", depends_on=[a.id])
    c = step(stask, "C", depends_on=[b.id])
    run_worker(app)
    assert fresh(stask, a.id).status == Status.FAILED
    for task, parent in ((b, a), (c, b)):
        row = fresh(stask, task.id)
        assert row.status == Status.CANCELLED
        assert row.message == f"Cancelled: parent task {parent.id} {'failed' if parent is a else 'cancelled'}"
    assert order(redis_of(app)) == []


def test_a_failed_parent_with_policy_run_lets_the_dependent_run(app: Flask, stask: Any) -> None:
    a = stask.create("flow", "fail")
    b = step(stask, "B", depends_on=[a.id], on_parent_failure="run")
    run_worker(app)
    assert fresh(stask, b.id).status == Status.FINISHED
    assert [p["status"] for p in seen(redis_of(app), "B")] == [Status.FAILED]


def test_a_cancelled_parent_cancels_its_dependent(stask: Any) -> None:
    a = step(stask, "A")
    b = step(stask, "B", depends_on=[a.id])
    stask.cancel(a.id)
    assert fresh(stask, b.id).status == Status.CANCELLED
    assert fresh(stask, b.id).message == f"Cancelled: parent task {a.id} cancelled"


def test_parents_that_ended_before_count_at_creation(app: Flask, stask: Any) -> None:
    done = step(stask, "done")
    failed = stask.create("flow", "fail")
    run_worker(app)
    released = step(stask, "R", depends_on=[done.id])
    assert released.waiting_parents == 0 and job_id(released.id, 1) in live_jobs(stask)
    cancelled = step(stask, "X", depends_on=[done.id, failed.id])
    assert cancelled.status == Status.CANCELLED and cancelled.message == f"Cancelled: parent task {failed.id} failed"
    runs = step(stask, "Y", depends_on=[failed.id], on_parent_failure="run")
    run_worker(app)
    assert [fresh(stask, t.id).status for t in (released, cancelled, runs)] == [80, 90, 80]


def test_missing_parents_are_refused_by_id_and_nothing_is_stored(stask: Any) -> None:
    a = step(stask, "A")
    with pytest.raises(TaskNotFound, match=r"do not exist: 999998, 999999"):
        step(stask, "B", depends_on=[a.id, 999999, 999998])
    with pytest.raises(InvalidInput):
        step(stask, "B", depends_on=[a.id], on_parent_failure="ignore")
    with pytest.raises(InvalidInput):
        step(stask, "B", depends_on=["x"])
    session = stask.db.session
    assert session.scalar(sa.select(sa.func.count()).select_from(Task)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskDependency)) == 0
    assert fresh(stask, a.id).follow_up is False  # the marking was rolled back too


def test_deleting_a_waiting_parent_counts_as_cancelled(stask: Any) -> None:
    a = step(stask, "A")
    b = step(stask, "B", depends_on=[a.id], on_parent_failure="run")
    stask.delete(a.id)
    assert fresh(stask, b.id).waiting_parents == 0
    assert job_id(b.id, 1) in live_jobs(stask)


def test_reconcile_leaves_waiting_dependents_alone_and_enqueues_released_orphans(app: Flask, stask: Any) -> None:
    a = step(stask, "A")
    b = step(stask, "B", depends_on=[a.id])
    stask.runtime.transport.discard([job_id(a.id, 1)])
    stask.runtime.redis.flushdb()
    assert stask.reconcile(grace=0)["requeued"] == 1  # A only: B waits on it
    assert live_jobs(stask) == {job_id(a.id, 1)}
    run_worker(app)
    assert fresh(stask, b.id).status == Status.FINISHED
    # A released dependent whose job was lost (a crash between the commit and the enqueue).
    c = step(stask, "C")
    d = step(stask, "D", depends_on=[c.id])
    stask.db.session.execute(sa.update(Task).where(Task.id == c.id).values(status=int(Status.FINISHED)))
    stask.db.session.execute(sa.update(Task).where(Task.id == d.id).values(waiting_parents=0))
    stask.db.session.commit()
    stask.runtime.redis.flushdb()
    assert stask.reconcile(grace=0)["requeued"] == 1
    assert live_jobs(stask) == {job_id(d.id, 1)}


def test_plain_tasks_keep_three_statements_and_dependents_cost_what_the_docs_say(
    app: Flask, stask: Any, count_queries: Any
) -> None:
    from stask.engine.processes import build_worker

    worker = build_worker(app, kind="simple")
    worker.maintenance_interval = 3600
    worker.run_maintenance_tasks()
    stask.resolve_worker("flow")
    count_queries.statements.clear()
    parent = step(stask, "P")
    assert count_queries.count == 1
    count_queries.statements.clear()
    child = step(stask, "C", depends_on=[parent.id])
    assert count_queries.count == 4  # INSERT, mark and lock the parent (2), INSERT the edge
    count_queries.statements.clear()
    worker.work(burst=True, logging_level="WARNING")
    # parent: claim, finish (the plain form misses, the followed-up form matches), then its
    # group, its waiting children, one count-down, the released row and its parents (payload);
    # the child: claim and finish.
    assert count_queries.count == 1 + 2 + 5 + 2, count_queries.statements
    assert fresh(stask, child.id).status == Status.FINISHED


def test_a_stray_job_of_a_waiting_dependent_claims_nothing(app: Flask, stask: Any) -> None:
    a = step(stask, "A")
    b = step(stask, "B", depends_on=[a.id])
    stask.runtime.transport.enqueue(stask.service.tasks.payloads_for_rows([fresh(stask, b.id)]), b.created_at)
    stask.runtime.transport.discard([job_id(a.id, 1)])
    run_worker(app)
    assert fresh(stask, b.id).status == Status.QUEUED and order(redis_of(app)) == []
