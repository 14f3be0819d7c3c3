"""Each guard of the claim and finish statements, alone, keeps an attempt from running or being
recorded twice. The job payloads are driven straight into ``runner.claim`` / ``runner.execute`` /
``runner.record_outcome``, so no other check (RQ, the worker process) can hide a missing guard:
removing ``attempts = n`` or ``status IN (claimable)`` from the claim, or either condition from
the finish, makes one of these tests fail (a mutation check once showed the rest of the suite
stayed green).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask

from stask import Status
from stask.engine import runner
from stask.engine.context import EngineContext
from stask.models import utcnow
from tests.support.tasks import fresh, recorded


def payload_of(stask: Any, task_id: int) -> dict[str, Any]:
    payload: dict[str, Any] = stask.service.tasks.payload_for_row(fresh(stask, task_id))
    stask.db.session.commit()
    return payload


def test_a_stale_job_of_an_earlier_attempt_claims_and_runs_nothing(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    task = stask.create("recorder", "record", data={"label": "ran"})
    stale = payload_of(stask, task.id)  # the job of attempt 1
    info = runner.TaskInfo.from_payload(stale)
    assert runner.claim(ctx, info, utcnow())
    failed = runner.Outcome(Status.FAILED, error="boom", retry=True)
    assert runner.record_outcome(ctx, replace(info, attempts=1), failed, run_ms=1, peak_kb=None, now=utcnow())
    row = fresh(stask, task.id)
    assert (row.status, row.attempts) == (Status.QUEUED, 1)  # claimable again, for attempt 2 only
    stask.db.session.commit()

    assert runner.execute(ctx, stale) == "skipped"  # only `attempts = n` stops it: the status matches
    assert recorded(app) == []
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.error) == (Status.QUEUED, 1, "boom")


def test_a_cancelled_tasks_job_claims_and_runs_nothing(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    task = stask.create("recorder", "record", data={"label": "ran"})
    payload = payload_of(stask, task.id)
    stask.cancel(task.id)
    assert task_row(stask, task.id) == (Status.CANCELLED, 0)

    assert runner.execute(ctx, payload) == "skipped"  # only `status IN (claimable)` stops it: attempts match
    assert recorded(app) == []
    assert task_row(stask, task.id) == (Status.CANCELLED, 0)


def test_a_late_finish_after_recovery_changes_nothing(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    task = stask.create("recorder", "record")
    payload = payload_of(stask, task.id)
    info = runner.TaskInfo.from_payload(payload)
    assert runner.claim(ctx, info, utcnow())
    running = {**payload, "attempts": 1}
    assert stask.service.recovery.recover(running, "worker process died: no heartbeat") == 1
    assert task_row(stask, task.id) == (Status.QUEUED, 1)

    # The "dead" process was only slow: its finish of attempt 1 arrives now. Only `status = running`
    # stops it (the attempt number matches).
    late = runner.Outcome(Status.FINISHED, message="late")
    assert not runner.record_outcome(ctx, replace(info, attempts=1), late, run_ms=1, peak_kb=None, now=utcnow())
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.message) != (Status.FINISHED, 1, "late")
    assert (row.status, row.attempts) == (Status.QUEUED, 1)


def test_a_late_finish_of_an_earlier_attempt_leaves_the_running_one_alone(app: Flask, stask: Any) -> None:
    ctx = EngineContext.of(app)
    task = stask.create("recorder", "record")
    payload = payload_of(stask, task.id)
    info = runner.TaskInfo.from_payload(payload)
    assert runner.claim(ctx, info, utcnow())
    assert stask.service.recovery.recover({**payload, "attempts": 1}, "worker process died") == 1
    retry = runner.TaskInfo.from_payload(payload_of(stask, task.id))
    assert runner.claim(ctx, replace(retry, start_at=None), utcnow())  # attempt 2 runs now
    assert task_row(stask, task.id) == (Status.RUNNING, 2)

    # Only `attempts = n` stops attempt 1's late finish: the row is running, as it expects.
    late = runner.Outcome(Status.FAILED, error="late", retry=False)
    assert not runner.record_outcome(ctx, replace(info, attempts=1), late, run_ms=1, peak_kb=None, now=utcnow())
    assert task_row(stask, task.id) == (Status.RUNNING, 2)


def task_row(stask: Any, task_id: int) -> tuple[int, int]:
    row = fresh(stask, task_id)
    result = (row.status, row.attempts)
    stask.db.session.commit()
    return result
