"""RQ worker classes that keep SQL and Redis in agreement while they serve the queues.

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
from rq.job import Job
from rq.queue import Queue

from ..monitoring.alerts import deliver_alerts
from ..workers.discovery import import_object
from .queues import JOB_FUNCTION

log = logging.getLogger("stask")


class StaskWorkerMixin:
    stask_app: Flask
    reconcile_interval: int = 30

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(self.worker_ttl - 15, self.reconcile_interval))  # type: ignore[attr-defined]

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        app = self.stask_app
        with app.app_context():
            runtime = app.extensions["stask.runtime"]
            lock = runtime.redis.set(
                f"{runtime.keys.prefix}:reconcile-lock",
                self.name,  # type: ignore[attr-defined]
                nx=True,
                ex=max(1, self.reconcile_interval - 1),
            )
            if lock:
                try:
                    result = app.extensions["stask"].reconcile()
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
                stask = app.extensions["stask"]
                payload = dict(job.args[0])
                payload["attempts"] = payload["attempts"] + 1  # the attempt that was running
                reason = kwargs.get("exc_string") or "work horse ended abnormally"
                stask.recover(
                    payload,
                    f"worker process died: {reason.strip().splitlines()[-1]}",
                    stopped=stopped or stask.runtime.live.stop_requested(payload["id"]),
                )
        return outcome


class StaskForkWorker(StaskWorkerMixin, ForkWorker):
    """One work horse per job: isolation, hard stops, memory returned after each task."""

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        from .runner import warm_up

        with self.stask_app.app_context():
            try:
                warm_up(self.stask_app.extensions["stask"])
            except Exception:  # a cold start is slower, never fatal
                log.exception("stask: worker warm-up failed")

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Claim before the fork and record after it, on this process's warm connection.

        The work horse then only runs the action and hands its outcome over through Redis
        (see :class:`stask.engine.runner.Delegation`); a horse that dies is handled by
        ``handle_job_failure`` as before.
        """
        if job.func_name != JOB_FUNCTION or not job.args:
            super().execute_job(job, queue)
            return
        from . import runner

        app = self.stask_app
        with app.app_context():
            stask = app.extensions["stask"]
            info = runner.TaskInfo.from_payload(job.args[0])
            now = runner.utcnow()
            claimed = runner.claim(stask, info, now)
            if claimed:
                stask.resolve_worker(info.identifier)  # the horse inherits a fresh L1 entry
            runner.delegation = runner.Delegation(info.id, info.attempts + 1, claimed, now)
            try:
                super().execute_job(job, queue)
            finally:
                runner.delegation = None
            if claimed:
                runner.record_handed_over(stask, replace(info, attempts=info.attempts + 1))


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
    """An RQ worker bound to ``app``, listening on ``queues`` strictly in the given order."""
    from .runner import bind_app

    bind_app(app)
    runtime = app.extensions["stask.runtime"]
    cls = worker_class(kind or app.config["STASK_WORKER_CLASS"])
    worker = cls(runtime.transport.ordered_queues(queues), connection=runtime.redis, **options)
    worker.stask_app = app
    worker.reconcile_interval = int(app.config["STASK_RECONCILE_INTERVAL"])
    worker.maintenance_interval = worker.reconcile_interval
    return worker
