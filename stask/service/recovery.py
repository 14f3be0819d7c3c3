"""Keeping SQL and Redis in agreement, and running tasks without a worker process.

``reconcile`` re-enqueues queued rows whose job is gone and ends attempts whose process
died; ``process_pending_tasks`` is the cron path (``flask stask process``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_sqlalchemy import SQLAlchemy

from ..engine.context import EngineContext
from ..engine.queues import job_id
from ..engine.runner import Outcome, TaskInfo, execute, record_outcome
from ..enums import Status
from ..models import utcnow
from ..runtime import Runtime
from . import store
from .tasks import ProgressCallback, TaskService


class Recovery:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, tasks: TaskService, engine: EngineContext) -> None:
        self.db = db
        self.runtime = runtime
        self.tasks = tasks
        self.engine = engine

    def process_pending_tasks(self, limit: int | None = None, on_progress: ProgressCallback | None = None) -> int:
        """Reconcile, then run every due queued task here, highest priority first.

        Returns how many finished. The claim makes this safe beside running workers: a
        task a worker already took is skipped.
        """
        self.reconcile()
        tasks = store.due_tasks(self.db.session, utcnow(), limit)
        payloads = [self.tasks.payload_for_row(t) for t in tasks]
        self.db.session.commit()
        finished = 0
        for done, payload in enumerate(payloads, 1):
            self.runtime.transport.discard([job_id(payload["id"], payload["attempts"] + 1)])
            with self.runtime.deadline(payload["timeout"]):
                outcome = execute(self.engine, payload)
            finished += outcome == Status.FINISHED.text
            if on_progress:
                on_progress(done, len(payloads))
        return finished

    def reconcile(self, grace: float = 5.0) -> dict[str, int]:
        """Re-enqueue queued tasks without a live job; retry or fail running tasks whose process died."""
        session = self.db.session
        now = utcnow()
        runtime = self.runtime
        queued = store.waiting_attempts(session, now - timedelta(seconds=grace))
        live_ids = runtime.transport.live_job_ids(overdue_after=grace) if queued else set()
        lost_ids = [task_id for task_id, attempts in queued if job_id(task_id, attempts + 1) not in live_ids]
        del queued
        payloads = [self.tasks.payload_for_row(t) for t in store.waiting_rows(session, lost_ids)]
        ttl = runtime.settings.heartbeat_ttl
        running = store.running_since(session, now - timedelta(seconds=ttl))
        alive = runtime.live.alive([t.id for t in running])
        dead = [t for t in running if not alive[t.id]]
        dead_payloads = [(self.tasks.payload_for_row(t), runtime.live.stop_requested(t.id)) for t in dead]
        session.commit()
        if payloads:
            runtime.transport.enqueue(payloads, now, reschedule=True)
        recovered = 0
        for payload, stopped in dead_payloads:
            recovered += self.recover(payload, f"worker process died: no heartbeat for {ttl} s", stopped=stopped)
        return {"requeued": len(payloads), "recovered": recovered}

    def recover(self, payload: dict[str, Any], reason: str, *, stopped: bool = False) -> int:
        """End an attempt whose process is gone: cancelled if a stop was asked, else retry or fail."""
        info = TaskInfo.from_payload(payload)
        outcome = (
            Outcome(Status.CANCELLED, message="Stopped on request")
            if stopped
            else Outcome(Status.FAILED, error=reason, retry=True)
        )
        changed = record_outcome(self.engine, info, outcome, run_ms=None, peak_kb=None, now=utcnow())
        if changed:
            self.runtime.storage.append_log(info.id, f"[{utcnow():%Y-%m-%d %H:%M:%S}] {outcome.message or reason}")
            self.runtime.live.clear(info.id)
        return int(changed)
