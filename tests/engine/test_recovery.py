"""Recovering from lost state: a flushed Redis, lost jobs, forgotten progress, a worker killed mid-task."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from flask import Flask

from stask import Status
from tests.support.apps import redis_of, run_worker
from tests.support.tasks import fresh, recorded, run_until_final, task_status
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


def test_tasks_survive_a_redis_flush(app: Flask, stask: Any) -> None:
    tasks = [stask.create("recorder", "record", data={"label": str(i)}) for i in range(5)]
    later = stask.create("recorder", "record", data={"label": "later"}, start_at="2999-01-01T00:00:00Z")
    redis_of(app).flushdb()
    run_worker(app)
    assert recorded(app) == []
    result = stask.reconcile(grace=0)
    assert result == {"requeued": 5, "recovered": 0}
    assert stask.reconcile(grace=0)["requeued"] == 0  # their jobs are live again
    run_worker(app)
    assert sorted(recorded(app)) == ["0", "1", "2", "3", "4"]
    assert all(task_status(stask, t.id) == Status.FINISHED for t in tasks)
    assert task_status(stask, later.id) == Status.QUEUED


def test_process_pending_tasks_runs_due_tasks_in_this_process(app: Flask, stask: Any) -> None:
    stask.create("recorder", "record", data={"label": "low"}, priority="low")
    stask.create("recorder", "record", data={"label": "high"}, priority="high")
    stask.create("flaky", "give_up")
    redis_of(app).delete("rq:queue:high")  # a lost job is run anyway
    assert stask.process_pending_tasks() == 2
    assert recorded(app) == ["high", "low"]
    assert all(len(q) == 0 for q in stask.runtime.transport.queues.values())


def test_progress_falls_back_to_the_row_and_log_once_redis_forgot(app: Flask, stask: Any) -> None:
    task = stask.create("echo", "say", data={"steps": 2})
    run_worker(app)
    redis_of(app).flushdb()
    info = stask.progress(task.id)
    assert (info["status_text"], info["progress"], info["message"]) == ("finished", 100, "hello")
    assert info["log_lines"][-1].endswith("100% step 2")


def test_kill_9_of_a_worker_mid_task_retries_the_task(app: Flask, stask: Any, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    task = stask.create("slow", "sleep", data={"seconds": 30, "marker": str(marker)})
    worker = spawn_worker(app, "simple")
    try:
        wait_for(marker.exists, timeout=20, what="the task to start in the worker process")
        assert task_status(stask, task.id) == Status.RUNNING
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        stop(worker)
    ttl = app.config["STASK_HEARTBEAT_TTL"]
    # Within heartbeat TTL + one reconcile pass the attempt is ended and a retry is due.
    wait_for(lambda: stask.reconcile()["recovered"] == 1, timeout=ttl + 10, interval=0.5, what="recovery")
    row = fresh(stask, task.id)
    assert (row.status, row.attempts) == (Status.QUEUED, 1)
    assert "worker process died" in row.error
    row = run_until_final(app, stask, task.id)
    assert (row.status, row.attempts) == (Status.FINISHED, 2)
