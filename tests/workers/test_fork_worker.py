"""The forking worker: the parent claims and records, the work horse only runs the action."""

from __future__ import annotations

from typing import Any

from flask import Flask

from stask import Status
from stask.engine.processes import build_worker
from tests.support.apps import redis_of, run_worker
from tests.support.tasks import fresh
from tests.support.workers import idle_record_delay


def test_a_forked_task_reports_progress_and_its_outcome(app: Flask, stask: Any) -> None:
    task = stask.create("echo", "say", data={"text": "fork", "steps": 3})
    written = stask.create("echo", "write_file", data={"text": "from a horse"})
    run_worker(app, kind="fork")
    row = fresh(stask, task.id)
    assert (row.status, row.progress, row.message, row.attempts) == (Status.FINISHED, 100, "hello fork", 1)
    assert row.run_ms is not None and row.peak_memory_kb
    assert stask.runtime.storage.tail_log(task.id)[-1].endswith("100% step 3")
    keys = redis_of(app).keys("stask:*")
    assert not [k for k in keys if b":progress:" in k or b":outcome:" in k or b":hb:" in k]
    row = fresh(stask, written.id)
    assert stask.runtime.storage.result_file(written.id, row.result).read_text() == "from a horse"


def test_a_forked_failure_is_retried(app: Flask, stask: Any) -> None:
    task = stask.create("flaky", "run", data={"fail_times": 1})
    run_worker(app, kind="fork")
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.error) == (Status.QUEUED, 1, "RuntimeError: planned failure on attempt 1")
    assert row.start_at is not None


def test_a_duplicate_job_forks_nothing_that_runs(app: Flask, stask: Any) -> None:
    task = stask.create("recorder", "record", data={"label": "once"})
    stask.runtime.transport.queues["normal"].push_job_id(f"stask-{task.id}-1")
    run_worker(app, kind="fork")
    assert redis_of(app).lrange("test:order", 0, -1) == [b"once"]
    assert fresh(stask, task.id).attempts == 1


def test_an_idle_forking_worker_records_the_outcome_before_waiting_for_work(app: Flask, stask: Any) -> None:
    """No next task comes: the outcome is recorded at once, before the worker waits for work
    (not by reconcile, once the task's heartbeat had lapsed: seconds later)."""
    delay = idle_record_delay(app, stask, "fork")
    assert delay < app.config["STASK_HEARTBEAT_TTL"] / 2


def test_a_forking_worker_records_the_last_outcome_as_it_leaves(app: Flask, stask: Any) -> None:
    """A worker told to stop after a number of jobs leaves its last outcome recorded."""
    first, second = (task.id for task in stask.create_many([{"identifier": "echo", "action": "noop"}] * 2))
    worker = build_worker(app, kind="fork")
    worker.work(burst=False, max_jobs=1, logging_level="WARNING")
    assert (fresh(stask, first).status, fresh(stask, second).status) == (Status.FINISHED, Status.QUEUED)
