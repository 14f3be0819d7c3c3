"""Real ``flask stask worker`` processes: stopping running tasks, losing work horses, SIGTERM."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.tasks import fresh, run_until_final, task_status
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


def started_pids(marker: Path) -> list[int]:
    return [int(line.split()[0]) for line in marker.read_text().splitlines()] if marker.exists() else []


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_stopping_a_running_task_ends_it_cancelled(sqlite_app: Flask, kind: str, tmp_path: Path) -> None:
    stask = sqlite_app.extensions["stask"]
    marker = tmp_path / "started"
    task = stask.create("slow", "sleep", data={"seconds": 30, "marker": str(marker)})
    worker = spawn_worker(sqlite_app, kind)
    try:
        wait_for(lambda: task_status(stask, task.id) == Status.RUNNING and marker.exists(), what="task to run")
        stask.cancel(task.id)
        assert stask.progress(task.id)["stop_requested"] in (True, False)  # may already be over
        wait_for(lambda: task_status(stask, task.id) == Status.CANCELLED, timeout=15, what="task to stop")
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
