"""What the dashboard shows at a glance: counters, each queue's backlog, live worker processes.

Cheap at any table size: the counters of ``s_task_counts`` (``stats``), per priority a due
count capped at ``store.BACKLOG_CAP`` and two one-row index walks for the oldest due task,
one Redis pipeline for queue depths and one ``rq.Worker.all``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import rq
from flask_sqlalchemy import SQLAlchemy

from ..enums import QUEUE_ORDER
from ..models import utcnow
from ..runtime import Runtime
from . import store
from .tasks import TaskService

#: Worker-process states shown as "busy" (the others are idle/suspended/started).
BUSY_STATES = {"busy"}


class Overview:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, tasks: TaskService) -> None:
        self.db = db
        self.runtime = runtime
        self.tasks = tasks

    def dashboard(self) -> dict[str, Any]:
        """Counters, queue depth and oldest waiting age per priority, live worker processes."""
        return {"stats": self.tasks.stats(), "queues": self.queues(), "processes": self.worker_processes()}

    def backlog(self) -> dict[str, tuple[int, datetime | None]]:
        """Per priority: due tasks in SQL and since when the oldest waits."""
        due = store.backlog(self.db.session, utcnow())
        self.db.session.commit()
        return due

    def queues(self) -> list[dict[str, Any]]:
        """Per priority: jobs waiting in RQ, tasks due in SQL, age of the oldest due task (seconds)."""
        now = utcnow()
        due = self.backlog()
        try:
            depth = self.runtime.transport.depth()
        except Exception:  # Redis down: the page still shows what SQL knows
            depth = {}
        out = []
        for name in QUEUE_ORDER:
            count, oldest = due.get(name, (0, None))
            out.append(
                {
                    "name": name,
                    "depth": depth.get(name),
                    "due": min(count, store.BACKLOG_CAP),
                    #: More due tasks than the capped count says ("10,000+").
                    "due_capped": count > store.BACKLOG_CAP,
                    "oldest_age": max(0.0, (now - oldest).total_seconds()) if oldest else None,
                }
            )
        return out

    def worker_processes(self) -> list[dict[str, Any]]:
        """Live worker processes from their Redis registrations (heartbeats)."""
        try:
            workers = rq.Worker.all(connection=self.runtime.redis)
        except Exception:  # Redis down or a half-written registration: show none rather than fail
            return []
        now = datetime.now(timezone.utc)
        out = []
        for worker in sorted(workers, key=lambda w: w.name):
            job = worker.get_current_job_id()
            task_id = None
            if job and job.startswith("stask-"):
                parts = job.split("-")
                task_id = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
            beat = worker.last_heartbeat
            if beat is not None and beat.tzinfo is None:
                beat = beat.replace(tzinfo=timezone.utc)
            out.append(
                {
                    "name": worker.name,
                    "state": worker.get_state(),
                    "busy": worker.get_state() in BUSY_STATES,
                    "queues": worker.queue_names(),
                    "job": job,
                    "task_id": task_id,
                    "heartbeat_age": (now - beat).total_seconds() if beat else None,
                    "successful": worker.successful_job_count,
                    "failed": worker.failed_job_count,
                    "pid": worker.pid,
                    "hostname": worker.hostname,
                }
            )
        return out
