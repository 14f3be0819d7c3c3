"""Exactly one run per attempt, and the recovery bound, at the kill points that can be driven
deterministically: a job popped by a worker killed before it claimed, ``flask stask process``
beside a worker that holds the job, RQ's bookkeeping failing after the action, a fork parent
killed while its horse finishes, a cold shutdown (two SIGTERMs); and due retries that go ahead
of new work but never start before their ``start_at``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.utils import utcformat

from stask import Status
from stask.engine.context import Delegation, EngineContext
from stask.engine.processes import build_worker
from stask.engine.queues import job_id
from stask.engine.runner import TaskInfo, claim, execute
from stask.models import utcnow
from tests.support.apps import redis_of, run_worker
from tests.support.fault_plugins import FAULT_WORKERS, spawn, worker_log
from tests.support.tasks import fresh, recorded
from tests.support.waiting import wait_for
from tests.support.workers import stop


def row_of(stask: Any, task_id: int) -> tuple[int, int]:
    row = fresh(stask, task_id)
    result = (row.status, row.attempts)
    stask.db.session.commit()
    return result


def test_a_job_popped_by_a_worker_killed_before_claiming_is_requeued(app: Flask, stask: Any) -> None:
    task = stask.create("recorder", "record", data={"label": "once"})
    transport = stask.runtime.transport
    worker = build_worker(app, kind="simple")
    worker.register_birth()
    try:
        job, queue = Queue.dequeue_any(transport.ordered_queues(), None, connection=redis_of(app))
        worker.prepare_execution(job)  # in RQ's started registry (expiring after the job's timeout)
        assert stask.reconcile(grace=0)["requeued"] == 0  # its worker beats: the job is live
        # The worker is killed here, before its claim: its heartbeats stop.
        stale = utcnow().replace(tzinfo=timezone.utc) - timedelta(seconds=app.config["STASK_HEARTBEAT_TTL"] + 5)
        redis_of(app).hset(worker.key, "last_heartbeat", utcformat(stale))
        assert stask.reconcile(grace=0)["requeued"] == 1  # within the bound, not after the job's timeout
    finally:
        worker.register_death()
    run_worker(app)
    assert recorded(app) == ["once"]
    assert row_of(stask, task.id) == (Status.FINISHED, 1)


def test_process_leaves_alone_a_job_a_worker_already_took(app: Flask, stask: Any) -> None:
    task = stask.create("recorder", "record", data={"label": "once"})
    job, queue = Queue.dequeue_any(stask.runtime.transport.ordered_queues(), None, connection=redis_of(app))
    assert stask.process_pending_tasks() == 1  # ran here, while a worker holds the popped job
    assert redis_of(app).exists(job.key)  # its hash is still there for that worker's RQ bookkeeping
    worker = build_worker(app, kind="simple")
    worker.register_birth()
    try:
        worker.execute_job(job, queue)  # claims nothing, runs nothing, raises nothing
    finally:
        worker.register_death()
    assert recorded(app) == ["once"]
    assert row_of(stask, task.id) == (Status.FINISHED, 1)


def test_rq_bookkeeping_errors_after_the_action_never_fail_a_completed_attempt(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("sqlite", discover=True, STASK_WORKERS=FAULT_WORKERS)
    stask = app.extensions["stask"]
    with app.app_context():
        task = stask.create("breaker", "run", data={"label": "once", "redis_url": app.config["REDIS_URL"]})
        stask.db.session.commit()
    run_worker(app, kind="fork")
    time.sleep(1.2)  # longer than any retry delay of these settings
    run_worker(app, kind="fork", with_scheduler=True)
    with app.app_context():
        assert row_of(stask, task.id) == (Status.FINISHED, 1)
    assert recorded(app) == ["once"]


def test_an_orphaned_horses_outcome_is_recorded_not_run_again(app: Flask, stask: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    task = stask.create("slow", "sleep", data={"seconds": 2, "marker": str(marker)})
    stask.db.session.commit()
    worker = spawn(app, "fork")
    try:
        wait_for(marker.exists, timeout=20, what="the horse to start the action")
        os.kill(worker.pid, signal.SIGKILL)  # the parent only: the horse runs on and hands over
        worker.wait(timeout=10)
        outcome_key = stask.runtime.keys.outcome(task.id, 1)
        wait_for(lambda: redis_of(app).exists(outcome_key), timeout=10, what="the orphaned horse's outcome")
        ttl = app.config["STASK_HEARTBEAT_TTL"]
        wait_for(lambda: stask.reconcile()["recovered"] == 1, timeout=ttl + 10, interval=0.5, what="reconcile")
    finally:
        stop(worker)
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.message) == (Status.FINISHED, 1, "woke up")
    assert len(marker.read_text().splitlines()) == 1


def test_a_cold_shutdown_ends_the_running_attempt_before_exiting(app: Flask, stask: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    task = stask.create("slow", "sleep", data={"seconds": 30, "marker": str(marker)})
    stask.db.session.commit()
    worker = spawn(app, "fork")
    try:
        wait_for(marker.exists, timeout=20, what="the horse to start the action")
        os.kill(worker.pid, signal.SIGTERM)  # warm: would wait for the task
        time.sleep(1.5)  # RQ ignores a second signal within 1 s
        os.kill(worker.pid, signal.SIGTERM)  # cold: the horse is killed
        worker.wait(timeout=20)
    finally:
        stop(worker)
    row = fresh(stask, task.id)  # no reconcile ran: the parent ended the attempt itself
    assert (row.status, row.attempts) == (Status.QUEUED, 1), worker_log(app)
    assert "cold shutdown" in row.error


def test_due_retries_go_ahead_of_new_work(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", discover=True, STASK_WORKERS=FAULT_WORKERS)
    stask = app.extensions["stask"]
    url = app.config["REDIS_URL"]
    with app.app_context():
        first = stask.create("retried", "record", data={"label": "A", "redis_url": url})
        stask.db.session.commit()
        run_worker(app)  # attempt 1 fails: a retry is scheduled
        assert row_of(stask, first.id) == (Status.QUEUED, 1)
        for label in ("B", "C"):
            stask.create("retried", "record", data={"label": label, "redis_url": url, "fail_first": False})
        due = fresh(stask, first.id).start_at
        stask.db.session.commit()
        time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 1.1)
        run_worker(app, with_scheduler=True)
    assert recorded(app) == ["A", "A", "B", "C"]


def test_a_job_delivered_before_its_start_at_waits_for_it(app: Flask, stask: Any) -> None:
    start_at = utcnow() + timedelta(seconds=2.5)
    task = stask.create("recorder", "record", data={"label": "x"}, start_at=start_at.isoformat() + "Z")
    payload = stask.service.tasks.payload_for_row(fresh(stask, task.id))
    stask.db.session.commit()
    transport = stask.runtime.transport
    jid = job_id(task.id, 1)
    registry = ScheduledJobRegistry(queue=transport.queues["normal"])
    assert registry.get_scheduled_time(jid).timestamp() >= start_at.replace(tzinfo=timezone.utc).timestamp()
    transport.enqueue([payload], start_at + timedelta(seconds=1))  # delivered early (RQ's whole seconds)
    redis_of(app).zrem(registry.key, jid)
    run_worker(app)
    assert recorded(app) == []
    assert row_of(stask, task.id) == (Status.QUEUED, 0)
    assert jid in registry.get_job_ids()  # scheduled again, not lost
    time.sleep(max(0.0, (start_at - utcnow()).total_seconds()) + 1.1)
    run_worker(app, with_scheduler=True)
    assert recorded(app) == ["x"]
    assert row_of(stask, task.id) == (Status.FINISHED, 1)


def test_a_hand_over_lost_with_a_restarted_redis_is_still_recorded(app: Flask, stask: Any, tmp_path: Path) -> None:
    """The horse handed its outcome over, then Redis came back empty before the parent took it:
    the parent reads the horse's local copy, so the finished attempt is recorded, not retried."""
    task = stask.create("echo", "say", data={"steps": 1})
    payload = stask.service.tasks.payload_for_row(fresh(stask, task.id))
    stask.db.session.commit()
    ctx = EngineContext.of(app)
    now = utcnow()
    info = TaskInfo.from_payload(payload)
    assert claim(ctx, info, now)  # what the parent does before forking
    handover = str(tmp_path / "outcome")
    ctx.delegation = Delegation(task.id, 1, True, now, handover)
    try:
        assert execute(ctx, payload) == Status.FINISHED.text  # what the horse does
    finally:
        ctx.delegation = None
    assert redis_of(app).exists(stask.runtime.keys.outcome(task.id, 1))
    redis_of(app).flushdb()  # the test's own Redis restarted without persistence
    worker = build_worker(app, kind="fork")
    with app.app_context():
        worker._finish(ctx, replace(info, attempts=1), handover)  # what the parent does after the horse
    assert row_of(stask, task.id) == (Status.FINISHED, 1)
    assert not Path(handover).exists()
