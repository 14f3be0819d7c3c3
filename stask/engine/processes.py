"""Worker-process classes (RQ workers) that keep SQL and Redis in agreement while they serve the queues.

* They reconcile every ``STASK_RECONCILE_INTERVAL`` seconds and deliver due alerts (one
  process at a time, by a Redis lock), waking from an idle wait to do so.
* When a forking worker's work horse dies (``kill -9``, out of memory, a stop request),
  the parent ends the task's attempt at once instead of waiting for the heartbeat to lapse.
* A forking worker claims and records in the parent, so work horses need no database
  connection of their own unless the action itself uses the database.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from flask import Flask
from rq import SimpleWorker
from rq import Worker as ForkWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

from ..models import utcnow
from ..monitoring.alerts import deliver_alerts
from ..service import current_stask
from ..workers.discovery import import_object
from .context import Delegation, EngineContext
from .queues import JOB_FUNCTION

log = logging.getLogger("stask")


class StaskWorkerMixin:
    """What stask adds to an RQ worker class; the app is given by :func:`build_worker`."""

    stask_app: Flask
    reconcile_interval: int = 30

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(self.worker_ttl - 15, self.reconcile_interval))  # type: ignore[attr-defined]

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """Every job runs inside the app's context (a work horse's included)."""
        with self.stask_app.app_context():
            return super().perform_job(job, queue, execution)  # type: ignore[misc,no-any-return]

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        app = self.stask_app
        with app.app_context():
            service = current_stask()
            lock = service.runtime.redis.set(
                service.runtime.keys.reconcile_lock,
                self.name,  # type: ignore[attr-defined]
                nx=True,
                ex=max(1, self.reconcile_interval - 1),
            )
            if lock:
                try:
                    result = service.recovery.reconcile()
                    if any(result.values()):
                        log.info("stask reconcile: %s", result)
                except Exception:  # maintenance must never kill the worker; log with traceback
                    log.exception("stask reconcile failed")
                try:
                    deliver_alerts(app)
                except Exception:
                    log.exception("stask alert delivery failed")

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> Any:
        stopped = getattr(self, "_stopped_job_id", None) == job.id
        outcome = super().handle_job_failure(job, queue, *args, **kwargs)  # type: ignore[misc]
        if job.func_name == JOB_FUNCTION and job.args:
            app = self.stask_app
            with app.app_context():
                service = current_stask()
                payload = dict(job.args[0])
                payload["attempts"] = payload["attempts"] + 1  # the attempt that was running
                reason = kwargs.get("exc_string") or "work horse ended abnormally"
                service.recovery.recover(
                    payload,
                    f"worker process died: {reason.strip().splitlines()[-1]}",
                    stopped=stopped or service.runtime.live.stop_requested(payload["id"]),
                )
        return outcome


class StaskForkWorker(StaskWorkerMixin, ForkWorker):
    """One work horse per job: isolation, hard stops, memory returned after each task."""

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        from .runner import warm_up

        with self.stask_app.app_context():
            try:
                warm_up(EngineContext.of(self.stask_app))
            except Exception:  # a cold start is slower, never fatal
                log.exception("stask: worker warm-up failed")

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Claim before the fork and record after it, on this process's warm connection.

        The work horse then only runs the action and hands its outcome over through Redis
        (see :class:`stask.engine.context.Delegation`); a horse that dies is handled by
        ``handle_job_failure`` as before.
        """
        if job.func_name != JOB_FUNCTION or not job.args:
            super().execute_job(job, queue)
            return
        from . import runner

        app = self.stask_app
        with app.app_context():
            ctx = EngineContext.of(app)
            info = runner.TaskInfo.from_payload(job.args[0])
            now = utcnow()
            claimed = runner.claim(ctx, info, now)
            if claimed:
                ctx.workers.resolve(info.identifier)  # the horse inherits a fresh L1 entry
            ctx.delegation = Delegation(info.id, info.attempts + 1, claimed, now)
            try:
                super().execute_job(job, queue)
            finally:
                ctx.delegation = None
            if claimed:
                runner.record_handed_over(ctx, replace(info, attempts=info.attempts + 1))


class StaskSimpleWorker(StaskWorkerMixin, SimpleWorker):
    """Jobs run in the worker process itself: about 3x the throughput, no isolation."""


WORKER_CLASSES = {"fork": StaskForkWorker, "simple": StaskSimpleWorker}


def worker_class(name: str) -> type:
    if name in WORKER_CLASSES:
        return WORKER_CLASSES[name]
    cls = import_object(name)
    if not isinstance(cls, type) or not issubclass(cls, StaskWorkerMixin):
        raise TypeError(f"{name} must subclass stask.engine.processes.StaskWorkerMixin and an RQ worker class")
    return cls


def build_worker(app: Flask, queues: list[str] | None = None, kind: str | None = None, **options: Any) -> Any:
    """A worker process bound to ``app``, listening on ``queues`` strictly in the given order."""
    with app.app_context():
        runtime = current_stask().runtime
    cls = worker_class(kind or runtime.settings.worker_class)
    worker = cls(runtime.transport.ordered_queues(queues), connection=runtime.redis, **options)
    worker.stask_app = app
    worker.reconcile_interval = runtime.settings.reconcile_interval
    worker.maintenance_interval = worker.reconcile_interval
    return worker
