"""Worker-process classes (RQ workers) that keep SQL and Redis in agreement while they serve the queues.

* A thread fires due schedules every ``STASK_SCHEDULER_INTERVAL`` seconds (one process leads).
* They reconcile every ``STASK_RECONCILE_INTERVAL`` seconds and deliver due alerts (one
  process at a time, by a Redis lock), waking from an idle wait to do so.
* When a forking worker's work horse dies (``kill -9``, out of memory, a stop request),
  the parent ends the task's attempt at once instead of waiting for the heartbeat to lapse.
* A forking worker claims and records in the parent, so work horses need no database
  connection of their own unless the action itself uses the database.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

import redis
from flask import Flask
from rq import SimpleWorker
from rq import Worker as ForkWorker
from rq.exceptions import DequeueTimeout
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.utils import now as rq_now
from rq.worker import WorkerStatus

from ..enums import Status
from ..models import utcnow
from ..monitoring.alerts import deliver_alerts
from ..monitoring.event_watch import watch_events
from ..service import current_stask
from ..service.schedule_loop import ScheduleLoop
from ..workers.discovery import import_object
from ..workers.registry import WorkerCache
from . import commit_mode
from .context import Delegation, EngineContext
from .horse_redis import NextHorseConnection
from .outages import OutageGuard, is_outage
from .progress import heartbeat
from .queues import JOB_FUNCTION

log = logging.getLogger("stask")
#: Seconds between the worker's plain keep-alive writes and suspension checks while jobs flow.
KEEPALIVE_EVERY = 1.0
#: A stask job as RQ names it in its lines: its id (``stask-12-1``) or its description.
_STASK_JOB = re.compile(r"\Astask(-\d+-\d+| task \d+ .*)\Z")


class RqSuccessFilter(logging.Filter):
    """Drops RQ's "Job OK" and "Successfully completed" lines for stask jobs.

    A stask job returns normally to RQ whatever became of the task (a failed attempt is an
    outcome stask records, not an exception), so RQ called every one a success. The runner logs
    what stask decided instead (:func:`stask.engine.runner.log_decision`); RQ's other lines stay.
    """

    #: RQ 3's two success lines: "Successfully completed … job in …" and "Worker …: <queue>: Job OK (<id>)"
    #: (the second format also announces a dequeued job: only its "Job OK" form is dropped).
    COMPLETED, JOB_OK = "Successfully completed", "Worker %s: %s: %s (%s)"

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.levelno != logging.INFO or not message.startswith((self.COMPLETED, self.JOB_OK)):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        success = message.startswith(self.COMPLETED) or any("Job OK" in str(a) for a in args)
        return not (success and any(_STASK_JOB.match(str(a)) for a in args))


RQ_SUCCESS_FILTER = RqSuccessFilter()


def show_decisions() -> None:
    """Let the ``stask`` logger's INFO lines (each task's outcome) through, beside RQ's own.

    As RQ does for its lines: INFO to standard output, warnings and errors to standard error (where
    they went before, through Python's last-resort handler), unless the logging set-up already
    gave the ``stask`` logger a handler.
    """
    logger = logging.getLogger("stask")
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    if logger.handlers:
        return
    formatter = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for stream, wanted in ((sys.stdout, lambda r: r.levelno < logging.WARNING), (sys.stderr, None)):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        if wanted is not None:
            handler.addFilter(wanted)
        else:
            handler.setLevel(logging.WARNING)
        logger.addHandler(handler)
    logger.propagate = False


class StaskWorkerMixin:
    """What stask adds to an RQ worker class; the app is given by :func:`build_worker`.

    Outages: every step of RQ's work loop that talks to Redis or the database is tried again
    after a connection error (one log line, capped backoff) for up to ``STASK_OUTAGE_GRACE``
    seconds, then the process exits with :data:`~stask.engine.outages.EXIT_OUTAGE`. RQ's own
    loop would quit on the first unexpected error (status 0 or 1); maintenance never stops it.
    """

    stask_app: Flask
    #: This process's worker-definition cache (the runner's lookups).
    stask_worker_cache: WorkerCache
    reconcile_interval: int = 30
    scheduler_interval: float = 5.0
    _stask_engine: EngineContext | None = None
    #: The attempt this process is running (fork parent: while its horse runs), for a cold shutdown.
    _stask_running: Any = None
    _stask_stopped: bool = False
    _stask_failure: str | None = None
    #: RQ left its work loop on an unexpected error (it would exit 0): exit 1 instead.
    _stask_crashed: bool = False
    #: When this process last renewed its registration / checked for suspension (monotonic seconds).
    _stask_beat_at: float = -math.inf
    _stask_suspension_checked: float = -math.inf
    #: The job whose start :meth:`_prepare_at_once` already wrote (RQ's own preparation is skipped).
    _stask_prepared: str | None = None
    #: A finished attempt's outcome may wait for this process's next claim (``runner.HeldOutcome``).
    holds_outcomes: bool = False

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(self.worker_ttl - 15, self.reconcile_interval))  # type: ignore[attr-defined]

    @property
    def engine(self) -> EngineContext:
        if self._stask_engine is None:
            self._stask_engine = EngineContext.of(self.stask_app)
        return self._stask_engine

    @property
    def outages(self) -> OutageGuard:
        return self.engine.outages

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        """RQ's work loop; it ends with status 0 only after a requested stop or a finished burst.

        Beside it, a thread fires due schedules (:mod:`stask.service.schedule_loop`), except in
        burst mode: a worker that drains the queues and exits leaves schedules to the others
        (and to ``flask stask process``), so its SQL cost stays that of its tasks.
        """
        self._stask_crashed = False
        interval = 0.0 if burst else self.scheduler_interval
        schedules = ScheduleLoop(self.stask_app, self.name, interval)  # type: ignore[attr-defined]
        schedules.start()
        self.engine.hold_outcomes = self.holds_outcomes
        try:
            worked = bool(super().work(burst, *args, **kwargs))  # type: ignore[misc,attr-defined]
        finally:
            self.engine.hold_outcomes = False
            try:
                self._record_held()
            finally:
                schedules.stop()
        if self._stask_crashed:  # RQ logged the error and left its loop ("unhandled exception, quitting")
            raise SystemExit(1)
        return worked

    def _crashed(self, exc: BaseException) -> None:
        if not isinstance(exc, SystemExit):
            self._stask_crashed = True

    def _record_held(self) -> None:
        """Record the outcome held for a next claim that is not coming now (the queues are empty,
        maintenance is due, the process stops); through an outage, as any outcome."""
        ctx = self.engine
        if ctx.held is None:
            return
        from . import runner

        with self.stask_app.app_context():
            self.outages.run("recording an outcome", lambda: runner.record_held(ctx))

    # -- the work loop's steps, each riding out an outage ------------------------------------
    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        base = super()
        self.outages.run("registering the worker", lambda: base.bootstrap(*args, **kwargs))  # type: ignore[misc,attr-defined]

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        base = super()
        self.outages.run("starting the scheduler", lambda: base._start_scheduler(*args, **kwargs))  # type: ignore[misc,attr-defined]

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check (``rq suspend``) before every job; here at most once per :data:`KEEPALIVE_EVERY`."""
        if time.monotonic() - self._stask_suspension_checked < KEEPALIVE_EVERY:
            return
        base = super()
        self.outages.run("checking for suspension", lambda: base.check_for_suspension(burst))  # type: ignore[misc,attr-defined]
        self._stask_suspension_checked = time.monotonic()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """Renew the worker's registration: at most once per :data:`KEEPALIVE_EVERY` while jobs flow.

        RQ writes this keep-alive (three commands, three round trips) before every dequeue and
        after every job, and once more inside each job's preparation pipeline. The key lives
        ``worker_ttl`` + 60 s, so only the pipelined one is needed while jobs flow; a plain one
        goes out when the last is older than a second, as one pipeline. Best effort: a missed
        heartbeat is harmless, the next Redis step meets the outage.
        """
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)  # type: ignore[misc,attr-defined]
            self._stask_beat_at = time.monotonic()
            return
        if timeout is None and time.monotonic() - self._stask_beat_at < KEEPALIVE_EVERY:
            return
        try:
            with self.connection.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
                super().heartbeat(timeout, pipe)  # type: ignore[misc,attr-defined]
                pipe.execute()
            self._stask_beat_at = time.monotonic()
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        """A fork parent keeps waiting for its horse through a Redis outage (RQ would leave it)."""
        try:
            super().maintain_heartbeats(job, execution)  # type: ignore[misc,attr-defined]
        except redis.RedisError as exc:
            if not is_outage(exc):
                raise

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue, minus its own endless retry of connection errors (ours has a grace).

        The same steps as RQ 3's: idle state, heartbeat, maintenance, ``dequeue_any``.
        """
        queues = ",".join(self.queue_names())  # type: ignore[attr-defined]
        idle_since = time.monotonic()

        def attempt() -> Any:
            if self._state != WorkerStatus.IDLE:  # type: ignore[attr-defined]  # a simple worker's job just set it
                self.set_state(WorkerStatus.IDLE)  # type: ignore[attr-defined]
            self.procline("Listening on " + queues)  # type: ignore[attr-defined]
            while True:
                wait = timeout
                if max_idle_time is not None:
                    left = math.ceil(max_idle_time - (time.monotonic() - idle_since))
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self.heartbeat()
                if self.should_run_maintenance_tasks:  # type: ignore[attr-defined]
                    self.run_maintenance_tasks()
                waited = time.monotonic()
                held = self.engine.held is not None  # then only a job waiting already is taken
                try:
                    result = self.queue_class.dequeue_any(  # type: ignore[attr-defined]
                        self._ordered_queues,  # type: ignore[attr-defined]
                        None if held else wait,
                        connection=self.connection,  # type: ignore[attr-defined]
                        job_class=self.job_class,  # type: ignore[attr-defined]
                        serializer=self.serializer,  # type: ignore[attr-defined]
                        death_penalty_class=self.death_penalty_class,  # type: ignore[attr-defined]
                    )
                except DequeueTimeout:
                    continue
                if result is None and held:
                    # Before waiting for work (no outcome waits on an idle queue); then ask again:
                    # recording it may have released dependents, whose jobs are queued now.
                    self._record_held()
                    continue
                if result is not None:
                    job, queue = result
                    self.reorder_queues(reference_queue=queue)  # type: ignore[attr-defined]
                    job.redis_server_version = self.get_redis_server_version()  # type: ignore[attr-defined]
                    self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)  # type: ignore[attr-defined]
                if time.monotonic() - waited > 1.0:  # a long wait: renew the worker's TTL (RQ's own step does it once)
                    self.heartbeat()
                return result

        try:
            return self.outages.run("waiting for a job", attempt)
        except Exception as exc:
            self._crashed(exc)
            raise

    def run_maintenance_tasks(self) -> None:
        """RQ's clean-up, the scheduler's restart, reconcile and alerts: never fatal."""
        self._record_held()  # reconcile and alerts read the rows
        try:
            super().run_maintenance_tasks()  # type: ignore[misc,attr-defined]
        except Exception as exc:
            # Try again at the next interval, not at every turn of the loop.
            vars(self)["last_cleaned_at"] = rq_now()
            log.warning("stask: RQ maintenance failed (%s: %s)", type(exc).__name__, exc)
        app = self.stask_app
        with app.app_context():
            try:
                service = current_stask()
                lock = service.runtime.redis.set(
                    service.runtime.keys.reconcile_lock,
                    self.name,  # type: ignore[attr-defined]
                    nx=True,
                    ex=max(1, self.reconcile_interval - 1),
                )
                if lock:
                    result = service.recovery.reconcile()
                    if any(result.values()):
                        log.info("stask reconcile: %s", result)
                    deliver_alerts(app)
                    watch_events(app)
            except Exception as exc:  # maintenance must never kill the worker
                if is_outage(exc):
                    log.warning("stask: reconcile skipped (%s: %s)", type(exc).__name__, exc)
                else:
                    log.exception("stask reconcile failed")
            finally:
                try:
                    current_stask().db.session.remove()
                except Exception as exc:  # a broken connection is dropped with the session anyway
                    log.debug("stask: session cleanup after maintenance failed: %s", exc)

    def teardown(self) -> None:
        try:
            super().teardown()  # type: ignore[misc,attr-defined]
        except Exception as exc:  # exiting during an outage: RQ's registers expire by themselves
            if not is_outage(exc):
                raise
            log.warning("stask: could not unregister the worker (%s: %s)", type(exc).__name__, exc)

    def _prepare_at_once(self, job: Job) -> Execution:
        """RQ's ``prepare_execution`` and ``prepare_job_execution``, their commands in one pipeline,
        which also reads the worker-cache version the job's worker lookup needs next."""
        with self.connection.pipeline() as pipeline:  # type: ignore[attr-defined]
            ttl = self.get_heartbeat_ttl(job)  # type: ignore[attr-defined]
            execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=self.name)  # type: ignore[attr-defined]
            self.executions[execution.id] = execution  # type: ignore[attr-defined]
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)  # type: ignore[attr-defined]
            self.heartbeat(ttl, pipeline=pipeline)
            job.heartbeat(rq_now(), ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)  # type: ignore[attr-defined]
            pipeline.persist(job.key)
            if len(self.queues) == 1:  # type: ignore[attr-defined]  # RQ moved the job through the queue's intermediate list
                pipeline.lrem(Queue(job.origin, connection=self.connection).intermediate_queue_key, 1, job.id)  # type: ignore[attr-defined]
            pipeline.get(self.stask_worker_cache.version_key)
            replies = pipeline.execute()
        self.stask_worker_cache.prefetch(replies[-1])
        self._stask_prepared = job.id
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")  # type: ignore[attr-defined]
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        if self._stask_prepared == job.id:  # done with the execution, in the same pipeline
            self._stask_prepared = None
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)  # type: ignore[misc]

    # -- jobs ----------------------------------------------------------------------------------
    def execute_job(self, job: Job, queue: Queue) -> None:
        if self._deferred(job):
            return
        try:
            self._execute_job(job, queue)
        except Exception as exc:
            if not is_outage(exc):
                self._crashed(exc)
                raise
            # RQ's bookkeeping of the job met an outage; the row (claimed, recorded) is the truth.
            self.outages.failed("job bookkeeping", exc)

    def _execute_job(self, job: Job, queue: Queue) -> None:
        super().execute_job(job, queue)  # type: ignore[misc,attr-defined]

    def _deferred(self, job: Job) -> bool:
        """A job delivered before its task's ``start_at`` goes back to the schedule, unclaimed."""
        if job.func_name != JOB_FUNCTION or not job.args:
            return False
        from . import runner

        payload = job.args[0]
        info = runner.TaskInfo.from_payload(payload)
        if runner.is_due(info, utcnow()):
            return False
        self.outages.run("re-scheduling an early job", lambda: self.engine.transport.defer(payload))
        return True

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """A stask job's end time only: RQ's extra heartbeat write to a job hash it finishes next is dropped."""
        if job.func_name != JOB_FUNCTION:
            super().handle_execution_ended(job, queue, heartbeat_ttl)  # type: ignore[misc]
            return
        job.ended_at = rq_now()

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any, execution: Execution) -> None:
        """RQ's success bookkeeping for a stask job in one transaction, without its dependents' watch.

        stask keeps dependencies, repeats and rate limits in SQL: its jobs never have RQ
        dependents, so RQ's ``WATCH`` of the dependents key and its ``SMEMBERS`` (two round
        trips per job) find nothing. The rest is RQ's own: counters, result, status, clean-up.
        """
        if job.func_name != JOB_FUNCTION or job.repeats_left or job.has_rate_limit:
            super().handle_job_success(job, queue, started_job_registry, execution)  # type: ignore[misc]
            return
        assert job.started_at is not None and job.ended_at is not None
        result_ttl = job.get_result_ttl(self.default_result_ttl)  # type: ignore[attr-defined]
        with self.connection.pipeline() as pipeline:  # type: ignore[attr-defined]
            self.increment_successful_job_count(pipeline=pipeline)  # type: ignore[attr-defined]
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)  # type: ignore[attr-defined]
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipeline,
                    worker_name=self.name,  # type: ignore[attr-defined]
                    execution_id=execution.id,
                    execution_started_at=execution.created_at,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            job._status = JobStatus.FINISHED
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)  # type: ignore[attr-defined]
            if not self._is_horse:  # type: ignore[attr-defined]  # a simple worker is idle again (a fork parent says so itself)
                self.set_state(WorkerStatus.IDLE, pipeline=pipeline)  # type: ignore[attr-defined]
            pipeline.execute()

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> Any:
        stopped = getattr(self, "_stopped_job_id", None) == job.id
        try:
            outcome = super().handle_job_failure(job, queue, *args, **kwargs)  # type: ignore[misc,attr-defined]
        except Exception as exc:  # RQ's bookkeeping; the attempt is still ended below
            if not is_outage(exc):
                raise
            outcome = None
        if job.func_name == JOB_FUNCTION and job.args:
            reason = kwargs.get("exc_string") or "work horse ended abnormally"
            self._stask_stopped = stopped
            self._stask_failure = f"worker process died: {reason.strip().splitlines()[-1]}"
            if self._delegated(job):
                return outcome  # the fork parent ends the attempt itself once the horse is gone
            payload = dict(job.args[0])
            payload["attempts"] = payload["attempts"] + 1  # the attempt that was running
            self._end_attempt(payload, self._stask_failure, stopped)
        return outcome

    def _delegated(self, job: Job) -> bool:
        return False

    def _end_attempt(self, payload: dict[str, Any], reason: str, stopped: bool) -> None:
        """Record the outcome this attempt handed over, else retry (or cancel) it: in this app's context."""
        with self.stask_app.app_context():
            service = current_stask()

            def end() -> None:
                service.recovery.recover(
                    payload, reason, stopped=stopped or service.runtime.live.stop_requested(payload["id"])
                )

            try:
                self.outages.run("ending an attempt", end)
            finally:
                service.db.session.remove()

    def request_force_stop(self, signum: int, frame: Any) -> None:
        """A cold shutdown ends the attempt this process was running before the process exits."""
        running = self._stask_running
        try:
            super().request_force_stop(signum, frame)  # type: ignore[misc,attr-defined]
        except SystemExit:
            if running is not None:
                self._stask_running = None
                payload, stopped = running
                try:
                    with self.stask_app.app_context():
                        service = current_stask()
                        service.recovery.recover(
                            payload,
                            "worker stopped (cold shutdown)",
                            stopped=stopped or service.runtime.live.stop_requested(payload["id"]),
                        )
                        service.db.session.remove()
                except Exception:  # Redis or the database is down: the reconcile step ends it later
                    log.exception("stask: could not end the attempt at a cold shutdown")
            raise


class StaskForkWorker(StaskWorkerMixin, ForkWorker):
    """One work horse per job: isolation, hard stops, memory returned after each task."""

    holds_outcomes = True

    #: How the last horse ended (``wait4``'s status; None: not waited for).
    _stask_horse_status: int | None = None

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        from .runner import warm_up

        with self.stask_app.app_context():
            try:
                warm_up(EngineContext.of(self.stask_app))
            except Exception:  # a cold start is slower, never fatal
                log.exception("stask: worker warm-up failed")
                EngineContext.of(self.stask_app).db.session.remove()
        # Start-up's objects live as long as the process: out of the collector's reach, a full
        # collection no longer walks (and, while a horse runs, copies) every page they sit on.
        gc.collect()
        gc.freeze()

    @functools.cached_property
    def _next_horse_redis(self) -> NextHorseConnection:
        return NextHorseConnection(self.connection)  # type: ignore[attr-defined]

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """RQ's fork; then, while the horse runs, this process opens the next horse's Redis
        connection (:mod:`stask.engine.horse_redis`): a horse no longer greets Redis itself."""
        self._next_horse_redis.make_ready()  # the first horse's (later ones': already open)
        super().fork_work_horse(job, queue)  # the horse never returns from it
        self._next_horse_redis.hand_over(self._horse_pid)
        self._next_horse_redis.make_ready()

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        self._next_horse_redis.adopt()
        super().main_work_horse(job, queue)

    def teardown(self) -> None:
        self._next_horse_redis.close()
        super().teardown()

    def _delegated(self, job: Job) -> bool:
        delegation = self.engine.delegation
        return delegation is not None and bool(job.args) and delegation.task_id == job.args[0]["id"]

    def _execute_job(self, job: Job, queue: Queue) -> None:
        """Claim before the fork and record after it, on this process's warm connection.

        The work horse then only runs the action and hands its outcome over through Redis
        (see :class:`stask.engine.context.Delegation`); RQ's preparation of the job and its
        success bookkeeping are this process's too. Once the horse is gone, this process records
        that outcome, or, when the horse left none (killed, out of memory, stopped), retries or
        cancels the attempt. Both wait through an outage: the outcome is held here, never lost
        and never re-run.
        """
        if job.func_name != JOB_FUNCTION or not job.args:
            super()._execute_job(job, queue)
            return
        from . import runner

        app = self.stask_app
        with app.app_context():
            ctx = self.engine
            info = runner.TaskInfo.from_payload(job.args[0])
            # RQ's two preparations in one pipeline, here before the fork: the horse then opens its
            # Redis connection only to hand its outcome over (RQ prepared in the horse: 1.5 ms).
            execution = self._prepare_at_once(job)
            now = utcnow()
            try:
                claimed = ctx.outages.run("claiming a task", lambda: runner.claim(ctx, info, now))
                definition = ctx.workers.resolve(info.identifier) if claimed else None  # handed to the horse
            finally:
                self.stask_worker_cache.prefetch(None)
            handover = os.path.join(tempfile.gettempdir(), f"stask-outcome-{os.getpid()}-{info.id}-{info.attempts + 1}")
            ctx.delegation = Delegation(info.id, info.attempts + 1, claimed, now, handover, definition)
            attempt = replace(info, attempts=info.attempts + 1)
            self._stask_failure, self._stask_stopped = None, False
            if claimed:
                self._stask_running = (attempt.payload(), False)
            self._stask_horse_status = None
            try:  # RQ's ForkWorker.execute_job, but for the idle state (below)
                self.fork_work_horse(job, queue)
                self.monitor_work_horse(job, queue, execution)
            except Exception as exc:
                if not claimed or not is_outage(exc):
                    raise
                self.outages.failed("job bookkeeping", exc)
                if self.horse_pid:  # the horse still runs: it hands its outcome over as usual
                    self.wait_for_horse()
                    self._horse_pid = 0
            finally:
                ctx.delegation = None
                self._stask_running = None
                self._stask_prepared = None
            fields = self._finish(ctx, attempt, handover) if claimed else None
        if fields is not None and self._stask_horse_status == 0:
            self._job_succeeded(job, queue, execution, Status(fields["status"]).text)
        else:
            self.set_state(WorkerStatus.IDLE)

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any, execution: Execution) -> None:
        """In a horse that ran its task's action, nothing: its parent does RQ's bookkeeping once
        the horse is gone, with its own idle state, in one round trip (1.8 ms less per horse)."""
        delegation = self.engine.delegation
        if self._is_horse and delegation is not None and delegation.claimed and self._delegated(job):  # type: ignore[attr-defined]
            return
        super().handle_job_success(job, queue, started_job_registry, execution)

    def _job_succeeded(self, job: Job, queue: Queue, execution: Execution, returned: str) -> None:
        """RQ's success bookkeeping of a job whose horse handed an outcome over and exited normally."""
        job.ended_at = rq_now()
        job._result = returned
        try:
            self.handle_job_success(job, queue, queue.started_job_registry, execution)
        except Exception as exc:  # RQ's view only: the row (claimed, recorded) is the truth
            if not is_outage(exc):
                raise
            self.outages.failed("job bookkeeping", exc)

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        pid, status, rusage = super().wait_for_horse()
        self._stask_horse_status = status
        return pid, status, rusage

    def _finish(self, ctx: EngineContext, attempt: Any, handover: str) -> dict[str, Any] | None:
        """Record the outcome the horse left in its file (then drop its copy in Redis: a crash in
        between leaves that copy for reconcile to record), else in Redis; or end the attempt of a
        horse that left none. A plain finish on PostgreSQL is held for the next claim's statement
        instead (:class:`runner.HeldOutcome`). Returns the outcome found."""
        from . import runner

        fields = runner.read_handover_file(handover)
        copied = fields is not None  # then Redis still holds the copy (unless it restarted empty)
        if fields is None:
            fields = ctx.outages.run("taking a handed-over outcome", lambda: runner.take_handed_over(ctx, attempt))
        if fields is None:
            reason = self._stask_failure or "worker process died: the work horse left no outcome"
            self._end_attempt(attempt.payload(), reason, self._stask_stopped)
            return None
        if self._stask_horse_status == 0 and runner.hold_handed_over(ctx, attempt, fields, copied):
            return fields  # recorded with the next claim (before the fork), then the copy dropped
        self._record(ctx, attempt, fields)
        if copied:
            with contextlib.suppress(redis.RedisError):
                runner.take_handed_over(ctx, attempt)
        return fields

    def _record(self, ctx: EngineContext, attempt: Any, fields: dict[str, Any]) -> None:
        from . import runner

        # Held here through a database outage; the heartbeat tells reconcile it is not dead.
        heartbeat.track(attempt.id, ctx.live)
        try:
            ctx.outages.run("recording an outcome", lambda: runner.record_fields(ctx, attempt, fields))
        finally:
            heartbeat.untrack(attempt.id)


class StaskSimpleWorker(StaskWorkerMixin, SimpleWorker):
    """Jobs run in the worker process itself: about 3x the throughput, no isolation."""

    holds_outcomes = True

    def _execute_job(self, job: Job, queue: Queue) -> None:
        """RQ's ``SimpleWorker.execute_job`` for a stask job, in two Redis round trips fewer.

        RQ prepares a job in two pipelines (the execution, then the job's start) and writes
        the idle state after it; here the preparation is one pipeline and the idle state goes
        with the job's success bookkeeping (see :meth:`StaskWorkerMixin.handle_job_success`).
        """
        if job.func_name != JOB_FUNCTION:
            super()._execute_job(job, queue)
            return
        execution = self._prepare_at_once(job)
        try:
            self.perform_job(job, queue, execution)
        finally:
            self.stask_worker_cache.prefetch(None)
        if self._state != WorkerStatus.IDLE:  # the job failed in RQ's eyes: its bookkeeping left the state busy
            self.set_state(WorkerStatus.IDLE)


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
        service = current_stask()
        runtime = service.runtime
        if not runtime.settings.worker_sync_commit:
            commit_mode.relax(service.db.engine)
    cls = worker_class(kind or runtime.settings.worker_class)
    queue_list = runtime.transport.ordered_queues(queues)
    outages = EngineContext.of(app).outages  # RQ's constructor already talks to Redis
    worker = outages.run("connecting to Redis", lambda: cls(queue_list, connection=runtime.redis, **options))
    worker.log.addFilter(RQ_SUCCESS_FILTER)  # once per logger (addFilter skips a filter it has)
    worker.log_result_lifespan = False  # "result is kept for 10 seconds": RQ's copy, not the task's result
    worker.stask_app = app
    worker.stask_worker_cache = runtime.workers
    worker.reconcile_interval = runtime.settings.reconcile_interval
    worker.scheduler_interval = runtime.settings.scheduler_interval
    worker.maintenance_interval = worker.reconcile_interval
    return worker
