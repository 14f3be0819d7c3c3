"""Read-only figures the panel pages show, each in as few statements as possible.

Kept apart from the views so the dashboard stays cheap: one grouped count (``get_stats``),
one grouped MIN for the oldest waiting task per priority, one Redis pipeline for queue
depths, one ``rq.Worker.all`` and one small ``ORDER BY id DESC LIMIT n``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import rq
import sqlalchemy as sa

from ..enums import CLAIMABLE, QUEUE_ORDER, Status
from ..models import Task, utcnow

#: RQ worker states shown as "busy" (the others are idle/suspended/started).
BUSY_STATES = {"busy"}


def dashboard_live(ext: Any) -> dict[str, Any]:
    """Counters, queue depth and oldest waiting age per priority, live RQ workers."""
    stats = ext.get_stats()
    return {"stats": stats, "queues": queue_overview(ext), "rq_workers": rq_workers(ext)}


def queue_overview(ext: Any) -> list[dict[str, Any]]:
    """Per priority: jobs waiting in RQ, tasks due in SQL, age of the oldest due task (seconds)."""
    now = utcnow()
    waiting_since = sa.func.coalesce(Task.start_at, Task.created_at)
    rows = ext.db.session.execute(
        sa.select(Task.priority, sa.func.count(), sa.func.min(waiting_since))
        .where(Task.status.in_([int(s) for s in CLAIMABLE]))
        .where(sa.or_(Task.start_at.is_(None), Task.start_at <= now))
        .group_by(Task.priority)
    ).all()
    ext.db.session.commit()
    due = {priority: (count, oldest) for priority, count, oldest in rows}
    try:
        depth = ext.runtime.transport.depth()
    except Exception:  # Redis down: the page still shows what SQL knows
        depth = {}
    out = []
    for name in QUEUE_ORDER:
        count, oldest = due.get(name, (0, None))
        out.append(
            {
                "name": name,
                "depth": depth.get(name),
                "due": int(count or 0),
                "oldest_age": max(0.0, (now - oldest).total_seconds()) if oldest else None,
            }
        )
    return out


def rq_workers(ext: Any) -> list[dict[str, Any]]:
    """Live RQ workers from their Redis registrations (heartbeats)."""
    try:
        workers = rq.Worker.all(connection=ext.runtime.redis)
    except Exception:  # Redis down or a half-written worker key: show none rather than fail
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


def recent_tasks(ext: Any, limit: int) -> list[Task]:
    """The newest rows, detached: a later commit in the request must not reload each one."""
    session = ext.db.session
    tasks = list(session.scalars(sa.select(Task).order_by(Task.id.desc()).limit(limit)))
    for task in tasks:
        session.expunge(task)
    session.commit()
    return tasks


def live_progress(ext: Any, tasks: list[Task]) -> dict[int, dict[str, Any]]:
    """Progress figures for a page of tasks: Redis for the running ones (one pipeline), the row otherwise."""
    running = [t.id for t in tasks if t.status == Status.RUNNING]
    live: dict[int, dict[str, str]] = {}
    if running:
        keys = ext.runtime.keys
        pipe = ext.runtime.redis.pipeline(transaction=False)
        for task_id in running:
            pipe.hgetall(keys.progress(task_id))
            pipe.exists(keys.stop(task_id))
        replies = pipe.execute()
        for index, task_id in enumerate(running):
            raw = replies[2 * index]
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            fields["stop_requested"] = "1" if replies[2 * index + 1] else ""
            live[task_id] = fields
    return {t.id: progress_dict(t, live.get(t.id)) for t in tasks}


def progress_dict(task: Task, live: dict[str, str] | None) -> dict[str, Any]:
    def number(name: str) -> float | None:
        value = (live or {}).get(name)
        try:
            return float(value) if value not in (None, "") else None
        except ValueError:
            return None

    processed, total = number("processed"), number("total")
    return {
        "progress": int(number("progress") or 0) if live else task.progress,
        "processed": int(processed) if processed is not None else None,
        "total": int(total) if total is not None else None,
        "eta": number("eta"),
        "message": ((live or {}).get("message") or task.message) if live else task.message,
        "stop_requested": bool((live or {}).get("stop_requested")),
    }


def failed_count(ext: Any) -> int:
    count = ext.db.session.scalar(sa.select(sa.func.count()).where(Task.status == int(Status.FAILED))) or 0
    ext.db.session.commit()
    return int(count)


def failed_ids(ext: Any, limit: int) -> list[int]:
    ids = list(
        ext.db.session.scalars(
            sa.select(Task.id).where(Task.status == int(Status.FAILED)).order_by(Task.id).limit(limit)
        )
    )
    ext.db.session.commit()
    return ids


def last_traceback(lines: list[str]) -> str | None:
    """The last Python traceback in a log tail (the runner logs one per failed attempt)."""
    start = None
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            start = index
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and not lines[end].startswith("["):
        end += 1
    return "\n".join(lines[start:end])


def result_view(ext: Any, task: Task) -> dict[str, Any]:
    """How to show a result: pretty JSON, plain text, and whether a file can be downloaded."""
    view: dict[str, Any] = {"json": None, "text": task.result, "file": None}
    if not task.result:
        return view
    try:
        parsed = json.loads(task.result)
        if isinstance(parsed, (dict, list)):
            view["json"] = parsed
    except ValueError:
        pass
    try:
        path = ext.runtime.storage.result_file(task.id, task.result)
        if path.is_file():
            view["file"] = path.name
            view["size"] = path.stat().st_size
    except Exception:  # not a file name (a plain text result), or an unsafe one: nothing to offer
        pass
    return view
