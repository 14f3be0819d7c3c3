"""Reading task rows as other processes left them, and running tasks until they end."""

from __future__ import annotations

from typing import Any

from flask import Flask

from stask import Status
from tests.support.apps import redis_of, run_worker
from tests.support.waiting import wait_for


def fresh(stask: Any, task_id: int) -> Any:
    """The row as other processes left it (end this session's snapshot first)."""
    stask.db.session.commit()
    stask.db.session.expire_all()
    return stask.get_task(task_id)


def task_status(stask: Any, task_id: int) -> int:
    status: int = fresh(stask, task_id).status
    stask.db.session.commit()
    return status


def run_until_final(app: Flask, stask: Any, task_id: int, timeout: float = 20) -> Any:
    """Serve the queues (with RQ's scheduler for retries) until the task reaches a final state."""

    def final() -> bool:
        run_worker(app, with_scheduler=True)
        return Status(task_status(stask, task_id)).is_final

    wait_for(final, timeout=timeout, interval=0.2, what=f"task {task_id} to end")
    return fresh(stask, task_id)


def recorded(app: Flask) -> list[str]:
    """The labels ``RecorderWorker`` pushed, in execution order."""
    return [v.decode() for v in redis_of(app).lrange("test:order", 0, -1)]
