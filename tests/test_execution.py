"""Running tasks against a real Redis and real worker processes, on every database."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import redis
from flask import Flask

from stask import Status
from stask.engine.queues import job_id
from tests.conftest import run_worker
from tests.helpers import spawn_worker, stop, wait_for


def recorded(app: Flask) -> list[str]:
    return [v.decode() for v in redis.Redis.from_url(app.config["REDIS_URL"]).lrange("test:order", 0, -1)]


def fresh(stask: Any, task_id: int) -> Any:
    """The row as other processes left it (end this session's snapshot first)."""
    stask.db.session.commit()
    stask.db.session.expire_all()
    return stask.get_task(task_id)


def task_status(stask: Any, task_id: int) -> int:
    status: int = fresh(stask, task_id).status
    stask.db.session.commit()
    return status


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


def run_until_final(app: Flask, stask: Any, task_id: int, timeout: float = 20) -> Any:
    """Serve the queues (with RQ's scheduler for retries) until the task reaches a final state."""

    def final() -> bool:
        run_worker(app, with_scheduler=True)
        return Status(task_status(stask, task_id)).is_final

    wait_for(final, timeout=timeout, interval=0.2, what=f"task {task_id} to end")
    return fresh(stask, task_id)


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


def test_tasks_survive_a_redis_flush(app: Flask, stask: Any) -> None:
    tasks = [stask.create("recorder", "record", data={"label": str(i)}) for i in range(5)]
    later = stask.create("recorder", "record", data={"label": "later"}, start_at="2999-01-01T00:00:00Z")
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
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
    redis.Redis.from_url(app.config["REDIS_URL"]).delete("rq:queue:high")  # a lost job is run anyway
    assert stask.process_pending_tasks() == 2
    assert recorded(app) == ["high", "low"]
    assert all(len(q) == 0 for q in stask.runtime.transport.queues.values())


def test_progress_falls_back_to_the_row_and_log_once_redis_forgot(app: Flask, stask: Any) -> None:
    task = stask.create("echo", "say", data={"steps": 2})
    run_worker(app)
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    info = stask.progress(task.id)
    assert (info["status_text"], info["progress"], info["message"]) == ("finished", 100, "hello")
    assert info["log_lines"][-1].endswith("100% step 2")


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


def test_sigterm_lets_the_running_task_finish(app: Flask, stask: Any, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    task = stask.create("slow", "sleep", data={"seconds": 1.5, "marker": str(marker)})
    worker = spawn_worker(app, "simple")
    try:
        wait_for(marker.exists, timeout=20, what="the task to start")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        stop(worker)
    assert task_status(stask, task.id) == Status.FINISHED


def test_an_action_running_past_its_timeout_fails_the_attempt(app: Flask, stask: Any) -> None:
    app.config["STASK_TIMEOUT"] = 1
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
