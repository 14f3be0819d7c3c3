"""Keeping SQL and Redis in agreement, and running tasks without a worker process.

``reconcile`` re-enqueues queued rows whose job is gone and ends attempts whose process
died; ``process_pending_tasks`` is the cron path (``flask stask process``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import redis
from flask_sqlalchemy import SQLAlchemy

from ..engine.context import EngineContext
from ..engine.queues import job_id
from ..engine.runner import Outcome, TaskInfo, execute, record_fields, record_outcome, take_handed_over
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
        payloads = self.tasks.payloads_for_rows(tasks)
        self.db.session.commit()
        finished = 0
        transport = self.runtime.transport

        def claimed(info: TaskInfo) -> None:
            # Only once this process owns the attempt, and only the copies no worker holds: a job a
            # worker already took keeps its hash (that worker's claim then skips it).
            try:
                transport.discard([job_id(info.id, info.attempts)])
            except redis.RedisError:
                pass  # a copy left behind claims nothing

        for done, payload in enumerate(payloads, 1):
            with self.runtime.deadline(payload["timeout"]):
                outcome = execute(self.engine, payload, after_claim=claimed)
            finished += outcome == Status.FINISHED.text
            if on_progress:
                on_progress(done, len(payloads))
        return finished

    def reconcile(self, grace: float = 5.0) -> dict[str, int]:
        """Re-enqueue queued tasks without a live job; retry or fail running tasks whose process died.

        A task still waiting on parents is not lost: it has no job by design (the store's
        queries leave it out). One whose parents all ended while a process died between the
        commit and the enqueue has a counter of 0 and no job: it is re-enqueued like any other.
        """
        session = self.db.session
        now = utcnow()
        runtime = self.runtime
        queued = store.waiting_attempts(session, now - timedelta(seconds=grace))
        ttl = runtime.settings.heartbeat_ttl
        # A popped job counts while the worker process holding it beats (not for its registry TTL).
        silent = max(ttl, grace)
        live_ids = runtime.transport.live_job_ids(overdue_after=grace, silent_after=silent) if queued else set()
        lost_ids = [task_id for task_id, attempts in queued if job_id(task_id, attempts + 1) not in live_ids]
        del queued
        payloads = self.tasks.payloads_for_rows(store.waiting_rows(session, lost_ids))
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
        """End an attempt whose process is gone.

        A work horse that finished its action may have handed its outcome over in Redis (its
        parent then died, or failed in RQ's bookkeeping): that outcome is recorded, and the work
        is not run again. Otherwise the attempt is cancelled if a stop was asked, else retried
        or failed.
        """
        info = TaskInfo.from_payload(payload)
        fields = take_handed_over(self.engine, info)
        if fields is not None:
            return int(record_fields(self.engine, info, fields))
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
