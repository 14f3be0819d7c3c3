"""A worker on PostgreSQL records a plain finish with its next claim (``runner.HeldOutcome``).

One statement and one commit for both, while the queues hold more work. The guarantees: a held
outcome is recorded before the worker waits for work, runs its maintenance or leaves; its task
beats on meanwhile, so no reconcile takes it for a dead one; anything but a plain finish (a
retry, a dependent's parent, an outcome a rule wants) is recorded as before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import Flask

from stask import Status
from stask.engine import runner
from stask.engine.context import EngineContext
from stask.engine.processes import build_worker
from stask.engine.progress import heartbeat
from stask.models import utcnow
from tests.support.apps import redis_of, run_worker
from tests.support.queries import Statements
from tests.support.tasks import fresh
from tests.support.workers import idle_record_delay

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def payload(stask: Any, task_id: int) -> dict[str, Any]:
    """The task's job payload; the session's transaction ends, as a worker's has between jobs."""
    job = stask.service.tasks.payload_for_row(stask.get_task(task_id))
    stask.db.session.commit()
    return job  # type: ignore[no-any-return]


def test_an_idle_simple_worker_records_the_held_outcome_before_waiting_for_work(app: Flask, stask: Any) -> None:
    """No next task comes: the outcome is recorded at once (not by maintenance, seconds later)."""
    delay = idle_record_delay(app, stask, "simple", STASK_RECONCILE_INTERVAL="60")  # no maintenance meanwhile
    assert delay < 2


def test_a_simple_worker_records_the_held_outcome_as_it_leaves(app: Flask, stask: Any) -> None:
    first, second = (task.id for task in stask.create_many([{"identifier": "echo", "action": "noop"}] * 2))
    worker = build_worker(app, kind="simple")
    worker.work(burst=False, max_jobs=1, logging_level="WARNING")
    assert (fresh(stask, first).status, fresh(stask, second).status) == (Status.FINISHED, Status.QUEUED)
    assert EngineContext.of(app).held is None and not EngineContext.of(app).hold_outcomes


def test_a_held_outcome_beats_until_it_is_recorded_with_the_next_claim(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    first, second = stask.create_many([{"identifier": "echo", "action": "noop"}] * 2)
    ctx.hold_outcomes = True
    try:
        assert runner.execute(ctx, payload(stask, first.id)) == "finished"
        held = ctx.held
        assert held is not None and held.info.id == first.id
        assert first.id in heartbeat._tasks  # reconcile sees a live attempt, not a dead one
        assert fresh(stask, first.id).status == Status.RUNNING
        assert runner.execute(ctx, payload(stask, second.id)) == "finished"
    finally:
        ctx.hold_outcomes = False
    assert fresh(stask, first.id).status == Status.FINISHED  # recorded by the second claim's statement
    assert first.id not in heartbeat._tasks and ctx.held.info.id == second.id
    runner.record_held(ctx)
    assert ctx.held is None and fresh(stask, second.id).status == Status.FINISHED
    assert second.id not in heartbeat._tasks


def test_a_held_outcome_is_recorded_before_maintenance_reads_the_rows(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    task = stask.create("echo", "noop")
    worker = build_worker(app, kind="simple")
    ctx.hold_outcomes = True
    try:
        runner.execute(ctx, payload(stask, task.id))
        assert ctx.held is not None
        worker.run_maintenance_tasks()
    finally:
        ctx.hold_outcomes = False
    assert ctx.held is None and fresh(stask, task.id).status == Status.FINISHED


def test_only_a_plain_finish_is_held(app: Flask, stask: Any) -> None:
    """A retry is scheduled at once; a parent's end releases its dependent at once."""
    ctx = EngineContext.of(app)
    flaky = stask.create("flaky", "run", data={"fail_times": 1})
    parent = stask.create("echo", "noop")
    child = stask.create("echo", "noop", depends_on=[parent.id])
    other = stask.create("echo", "noop")
    ctx.hold_outcomes = True
    try:
        runner.execute(ctx, payload(stask, flaky.id))
        assert ctx.held is None and fresh(stask, flaky.id).status == Status.QUEUED
        runner.execute(ctx, payload(stask, parent.id))  # held: its follow-up is found when recorded
        assert ctx.held is not None and ctx.held.info.id == parent.id
        runner.execute(ctx, payload(stask, other.id))  # the claim's statement does not finish it: its own form does
        assert fresh(stask, parent.id).status == Status.FINISHED
        assert fresh(stask, child.id).waiting_parents == 0  # released with its parent's end
        runner.record_held(ctx)
    finally:
        ctx.hold_outcomes = False
    assert fresh(stask, other.id).status == Status.FINISHED


def test_a_forking_worker_records_a_horse_finish_with_its_next_claim(app: Flask, stask: Any) -> None:
    """The parent holds a horse's plain finish: three tasks, four writes (claim; finish and claim
    twice; the last finish), and no handed-over copy left in Redis."""

    def writes() -> list[str]:  # a burst's writes to s_tasks (its warm-up's included)
        with Statements(app) as counted:
            run_worker(app, kind="fork")
        return [s for s in counted.statements if "UPDATE s_tasks" in s]

    warm_up = len(writes())  # on empty queues
    tasks = stask.create_many([{"identifier": "echo", "action": "noop"}] * 3)
    burst = writes()
    assert [fresh(stask, task.id).status for task in tasks] == [Status.FINISHED] * 3
    assert len(burst) - warm_up == 4 and sum(s.lstrip().startswith("WITH") for s in burst) == 2, burst
    assert not redis_of(app).keys("*:outcome:*")


def test_a_held_horse_outcome_keeps_its_copy_in_redis_until_recorded(app: Flask, stask: Any) -> None:
    """A parent that dies while it holds the outcome leaves the horse's copy for reconcile."""
    ctx = EngineContext.of(app)
    task = stask.create("echo", "noop")
    info = runner.TaskInfo.from_payload(payload(stask, task.id))
    assert runner.claim(ctx, info, utcnow())
    attempt = replace(info, attempts=info.attempts + 1)
    fields = {"status": int(Status.FINISHED), "message": "done", "result": None, "error": None, "retry": False}
    fields.update(run_ms=3, peak_kb=None, at=utcnow().isoformat(), touched=False)
    ctx.live.put_outcome(task.id, attempt.attempts, fields)
    ctx.hold_outcomes = True
    try:
        assert runner.hold_handed_over(ctx, attempt, fields, copied=True)
    finally:
        ctx.hold_outcomes = False
    key = stask.runtime.keys.outcome(task.id, attempt.attempts)
    assert redis_of(app).exists(key) and task.id in heartbeat._tasks
    assert fresh(stask, task.id).status == Status.RUNNING
    runner.record_held(ctx)
    assert (fresh(stask, task.id).status, fresh(stask, task.id).message) == (Status.FINISHED, "done")
    assert not redis_of(app).exists(key) and task.id not in heartbeat._tasks
