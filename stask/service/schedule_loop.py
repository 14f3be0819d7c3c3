"""Firing due schedules inside worker processes: a daemon thread, one leading process at a time.

Every ``STASK_SCHEDULER_INTERVAL`` seconds each worker process's thread tries to lead: the
Redis key ``<prefix>:scheduler-lock`` is set if absent (or renewed by its holder) with an
expiry of three intervals. The leader runs :meth:`ScheduleService.fire_due`. A leader that
dies is replaced once its key expires; two leaders at once (a pause longer than the expiry)
are harmless, because the guarded UPDATE gives each slot to one process only.

Lateness: a slot fires within one interval (5 s by default) plus the pass's own duration
while the leader lives, and within four intervals after the leader died. A thread, not the
work loop, so that a process busy with a long task still fires schedules. Redis and database
errors are logged and tried again at the next pass: this loop never stops a worker.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from ..engine.outages import is_outage
from . import current_stask
from .schedules import FireReport

log = logging.getLogger("stask")


class ScheduleLoop:
    def __init__(self, app: Flask, owner: str, interval: float) -> None:
        self.app = app
        self.owner = owner
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire_once(self) -> FireReport | None:
        """One pass: lead (or not), fire what is due; None when another process leads or it failed."""
        with self.app.app_context():
            service = current_stask()
            try:
                if not self._lead():
                    return None
                report = service.schedules.fire_due()
                if report.created or report.skipped:
                    log.info(
                        "stask schedules: %d task(s) created, %d slot(s) skipped", len(report.created), report.skipped
                    )
                return report
            except Exception as exc:  # never fatal: the next pass tries again
                if is_outage(exc):
                    log.warning("stask: firing schedules skipped (%s: %s)", type(exc).__name__, exc)
                else:
                    log.exception("stask: firing schedules failed")
                return None
            finally:
                try:
                    service.db.session.remove()
                except Exception as exc:  # a broken connection is dropped with the session anyway
                    log.debug("stask: session cleanup after firing schedules failed: %s", exc)

    def _lead(self) -> bool:
        runtime = current_stask().runtime
        key, ttl = runtime.keys.scheduler_lock, max(1, round(3 * self.interval))
        if runtime.redis.set(key, self.owner, nx=True, ex=ttl):
            return True
        if self._holds(runtime.redis.get(key)):
            runtime.redis.expire(key, ttl)
            return True
        return False

    def _holds(self, holder: bytes | str | None) -> bool:
        return holder is not None and (holder.decode() if isinstance(holder, bytes) else holder) == self.owner

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stask-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.fire_once()
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        """Stop the thread and hand leadership over at once (the key is deleted if this process holds it)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=30)
        with self.app.app_context():
            runtime = current_stask().runtime
            try:
                if self._holds(runtime.redis.get(runtime.keys.scheduler_lock)):
                    runtime.redis.delete(runtime.keys.scheduler_lock)
            except Exception as exc:  # Redis is gone: the key expires by itself
                log.debug("stask: could not release the scheduler lock: %s", exc)
