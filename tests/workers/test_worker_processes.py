"""Real ``flask stask worker`` processes: live progress and stopping of tasks that are really running,
losing work horses, SIGTERM.

The tasks looked at while running are ``BlockingWorker``'s (``tests/support/blocking_plugins.py``):
they report progress, then hold until the test releases them, so what the test reads cannot race
the task's end.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.apps import redis_of
from tests.support.blocking_plugins import BLOCKING_WORKERS, HOLDING, STEPS, release
from tests.support.tasks import fresh, run_until_final, task_status
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


def started_pids(marker: Path) -> list[int]:
    return [int(line.split()[0]) for line in marker.read_text().splitlines()] if marker.exists() else []


def ended(stask: Any, task_id: int) -> bool:
    return Status(task_status(stask, task_id)).is_final


def holding(stask: Any, task_id: int) -> dict[str, Any] | None:
    """The task's progress once it runs and has reported its first tick (None before).

    A tick reaches Redis just before its line reaches the task's log: both are waited for.
    """
    if task_status(stask, task_id) != Status.RUNNING:
        return None
    info: dict[str, Any] = stask.progress(task_id)
    return info if info["message"] == HOLDING and info["log_lines"] else None


@pytest.mark.app_config(STASK_WORKERS=BLOCKING_WORKERS)
@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_live_progress_of_a_task_that_is_really_running(sqlite_app: Flask, kind: str) -> None:
    stask = sqlite_app.extensions["stask"]
    task = stask.create("blocking", "hold")
    worker = spawn_worker(sqlite_app, kind)
    try:
        info = wait_for(lambda: holding(stask, task.id), what="the task to run and report progress")
        # Read from Redis while the row still says 0 %: the tick never touched SQL.
        assert (info["status"], info["progress"], info["processed"], info["total"]) == (Status.RUNNING, 25, 1, STEPS)
        assert info["eta"] is not None and info["stop_requested"] is False
        assert info["log_lines"][-1].endswith(f" 25% {HOLDING}")
        assert fresh(stask, task.id).progress == 0
        assert redis_of(sqlite_app).exists(stask.runtime.keys.progress(task.id))
        listed = stask.service.tasks.progress_many([fresh(stask, task.id)])[task.id]
        assert (listed["progress"], listed["message"]) == (25, HOLDING)
        release(redis_of(sqlite_app), task.id)
        wait_for(lambda: ended(stask, task.id), what="the released task to end")
    finally:
        stop(worker)
    assert fresh(stask, task.id).status == Status.FINISHED
    final = stask.progress(task.id)
    assert (final["progress"], final["message"], final["processed"]) == (100, "released", None)  # from the row
    assert not redis_of(sqlite_app).exists(stask.runtime.keys.progress(task.id))  # the live hash is gone


@pytest.mark.app_config(STASK_WORKERS=BLOCKING_WORKERS)
def test_stopping_a_running_task_is_cooperative_in_a_simple_worker(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task = stask.create("blocking", "hold")
    worker = spawn_worker(sqlite_app, "simple")
    try:
        wait_for(lambda: holding(stask, task.id), what="the task to run and report progress")
        stask.cancel(task.id)
        # The action holds until released, so the stop is pending and the row still running.
        info = stask.progress(task.id)
        assert (info["status"], info["stop_requested"]) == (Status.RUNNING, True)
        release(redis_of(sqlite_app), task.id)  # its next progress tick notices the stop
        wait_for(lambda: ended(stask, task.id), timeout=15, what="the task to end")
    finally:
        stop(worker)
    row = fresh(stask, task.id)
    assert (row.status, row.message, row.attempts) == (Status.CANCELLED, "Stopped on request", 1)
    assert not stask.runtime.live.stop_requested(task.id)
    assert stask.progress(task.id)["stop_requested"] is False


@pytest.mark.app_config(STASK_WORKERS=BLOCKING_WORKERS)
def test_stopping_a_running_task_kills_the_work_horse_of_a_forking_worker(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task = stask.create("blocking", "hold")
    worker = spawn_worker(sqlite_app, "fork")
    try:
        wait_for(lambda: holding(stask, task.id), what="the task to run and report progress")
        stask.cancel(task.id)
        # Never released: the action cannot cooperate, so only killing its work horse can end it.
        wait_for(lambda: task_status(stask, task.id) == Status.CANCELLED, timeout=15, what="the task to stop")
        assert worker.poll() is None  # the worker process itself lives on
    finally:
        stop(worker)
    row = fresh(stask, task.id)
    assert (row.message, row.attempts) == ("Stopped on request", 1)
    assert not stask.runtime.live.stop_requested(task.id)


@pytest.mark.app_config(STASK_HEARTBEAT_TTL=3600)  # prove it is the parent, not the heartbeat, that notices
def test_killing_a_work_horse_ends_the_attempt_at_once(sqlite_app: Flask, tmp_path: Path) -> None:
    stask = sqlite_app.extensions["stask"]
    assert sqlite_app.config["STASK_HEARTBEAT_TTL"] == 3600
    marker = tmp_path / "started"
    task = stask.create("slow", "sleep", data={"seconds": 30, "marker": str(marker)})
    worker = spawn_worker(sqlite_app, "fork", "--burst")
    try:
        horse = wait_for(lambda: started_pids(marker), what="the work horse to start")[0]
        assert horse != worker.pid
        os.kill(horse, signal.SIGKILL)
        # The parent ends attempt 1 at once and schedules attempt 2 (the heartbeat TTL is an hour).
        wait_for(lambda: task_status(stask, task.id) == Status.QUEUED, timeout=15, what="the attempt to end")
        assert worker.wait(timeout=15) == 0
    finally:
        stop(worker)
    row = fresh(stask, task.id)
    assert row.attempts == 1 and row.error.startswith("worker process died")
    row = run_until_final(sqlite_app, stask, task.id)
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
