"""Run one attempt of one task: claim, resolve the worker, execute, record the outcome.

This is what an RQ job calls (:func:`run_task`) and what ``process_pending_tasks`` calls
in-process. It issues exactly two SQL statements per attempt (claim and finish) and no
Redis command unless the action reports progress or runs long enough to need heartbeats.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import redis
import sqlalchemy as sa
from flask import current_app
from rq.timeouts import JobTimeoutException

from .. import signals
from ..enums import CLAIMABLE, Status
from ..exceptions import TaskStopped, WorkerUnavailable
from ..models import Task, utcnow
from ..workers.registry import WorkerDefinition
from .autocommit import autocommit_engine, run_alone
from .context import EngineContext
from .progress import estimate_eta, heartbeat
from .retry import backoff_delay

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
#: One line per recorded outcome, saying what stask decided (``flask stask worker`` shows INFO).
log = logging.getLogger("stask")


def run_task(payload: dict[str, Any]) -> str:
    """The RQ job function. Returns what happened, for RQ's logs.

    stask's worker processes run every job inside their app's context
    (:meth:`stask.engine.processes.StaskWorkerMixin.perform_job`).
    """
    return execute(EngineContext.of(current_app), payload)


@dataclass
class TaskInfo:
    """What an action sees of its task: plain values, no lazy database access."""

    id: int
    identifier: str
    action: str
    data: dict[str, Any]
    priority: str
    attempts: int
    max_attempts: int
    timeout: int
    created_at: datetime
    start_at: datetime | None = None
    user_id: int | None = None
    backoff: tuple[float, float] = (5.0, 600.0)
    #: Its parents, for a task created with ``depends_on``: id, identifier, action, status,
    #: result (the result file's absolute path, or None) and message of each.
    parents: list[dict[str, Any]] = field(default_factory=list)
    #: Created with ``notify=[...]``: rules of its own follow its events.
    notify: bool = False

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TaskInfo:
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__ if k in payload})

    def payload(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Outcome:
    status: Status
    message: str | None = None
    result: str | None = None
    error: str | None = None
    retry: bool = False


@dataclass
class TaskContext:
    """Per-attempt state behind ``BaseWorker``'s helper methods."""

    task: TaskInfo
    ctx: EngineContext
    started: float = field(default_factory=time.time)
    outcome: Outcome | None = None
    touched_redis: bool = False
    last_percent: float = 0.0

    @property
    def storage(self) -> Any:
        return self.ctx.storage

    def log(self, message: str) -> None:
        stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S")
        self.storage.append_log(self.task.id, f"[{stamp}] {message}")

    def push_progress(
        self, percent: float | None, message: str | None, *, processed: int | None = None, total: int | None = None
    ) -> None:
        if percent is None and processed is not None and total:
            percent = 100.0 * processed / total
        percent = min(100.0, max(0.0, float(percent if percent is not None else self.last_percent)))
        self.last_percent = percent
        now = time.time()
        eta = estimate_eta(self.started, now, processed, total, percent)
        self.touched_redis = True
        stop = self.ctx.live.publish(
            self.task.id,
            {
                "progress": round(percent),
                "message": message,
                "processed": processed,
                "total": total,
                "eta": None if eta is None else round(eta, 1),
                "updated": round(now, 3),
            },
        )
        if message:
            self.log(f"{round(percent):3d}% {message}")
        if stop:
            raise TaskStopped("stopped on request")

    def finish(self, message: str | None, result: str | Path | None) -> None:
        self.outcome = Outcome(Status.FINISHED, message=message, result=self._relative_result(result))

    def fail(self, message: str, *, retry: bool) -> None:
        self.outcome = Outcome(Status.FAILED, message=message, error=message, retry=retry)

    def _relative_result(self, result: str | Path | None) -> str | None:
        """Result files are stored relative to the task's folder (downloads resolve them there)."""
        if result is None:
            return None
        folder = self.storage.result_dir(self.task.id).resolve()
        path = Path(result)
        if path.is_absolute():
            try:
                return str(path.resolve().relative_to(folder))
            except ValueError:
                return str(result)
        return str(result)


# -- peak memory of one attempt (Linux: reset the high-water mark, read it after) ----------
def _reset_peak_rss() -> None:
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, b"5")
    except OSError:
        pass
    finally:
        os.close(fd)


def _peak_rss_kb() -> int | None:
    try:
        fd = os.open("/proc/self/status", os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.read(fd, 8192)
    finally:
        os.close(fd)
    start = text.find(b"VmHWM:")
    if start < 0:
        return None
    return int(text[start + 6 : text.index(b"kB", start)])


_TASKS = cast(sa.Table, Task.__table__)
#: Built once: building and compiling an ORM UPDATE per call cost more than executing it.
_CLAIM = (
    sa.update(_TASKS)
    .where(
        _TASKS.c.id == sa.bindparam("task_id"),
        _TASKS.c.waiting_parents == 0,  # a dependent never runs before its parents ended
        _TASKS.c.status.in_([int(s) for s in CLAIMABLE]),
        _TASKS.c.attempts == sa.bindparam("attempt"),
    )
    .values(
        status=int(Status.RUNNING),
        attempts=sa.bindparam("next_attempt"),
        started_at=sa.bindparam("now"),
        started_by=sa.bindparam("worker"),
        finished_at=None,
        wait_ms=sa.bindparam("waited_ms"),  # not a column's name: execute() would add it to an UPDATE without it
    )
)
_FINISH: dict[tuple[tuple[str, ...], bool, str], sa.Update] = {}
_FINISH_AND_CLAIM: dict[tuple[str, ...], sa.Select[Any]] = {}
#: The held outcome's parameters in :func:`_finish_and_claim` (the claim's keep their names).
HELD_PREFIX = "held_"


def _finish_statement(columns: tuple[str, ...], follow_up: bool = False, prefix: str = "") -> sa.Update:
    """The finish UPDATE for one set of columns (three shapes: finished, retry, failed/cancelled).

    Each shape has two forms: for rows without follow-up (no dependents, no group: one
    statement, the task path's budget) and for rows with it, whose end must be followed up in
    the same transaction. A task's follow-up flag is set before any dependent is committed.
    ``prefix`` names its parameters apart, for a statement that also claims (:data:`HELD_PREFIX`).
    """
    statement = _FINISH.get((columns, follow_up, prefix))
    if statement is None:
        statement = _FINISH[columns, follow_up, prefix] = (
            sa.update(_TASKS)
            .where(
                _TASKS.c.follow_up.is_(sa.true()) if follow_up else _TASKS.c.follow_up.is_(sa.false()),
                _TASKS.c.id == sa.bindparam(f"{prefix}task_id"),
                _TASKS.c.status == int(Status.RUNNING),
                _TASKS.c.attempts == sa.bindparam(f"{prefix}attempt"),
            )
            .values({name: sa.bindparam(f"{prefix}v_{name}") for name in columns})
        )
    return statement


def _finish_and_claim(columns: tuple[str, ...]) -> sa.Select[Any]:
    """One statement (PostgreSQL: two data-modifying CTEs) that records a held outcome and
    claims the next task: one round trip and one commit instead of two of each. Returns how
    many rows each changed (0 or 1)."""
    statement: sa.Select[Any] | None = _FINISH_AND_CLAIM.get(columns)
    if statement is None:
        finished = _finish_statement(columns, prefix=HELD_PREFIX).returning(_TASKS.c.id).cte("finished")
        claimed = _CLAIM.returning(_TASKS.c.id).cte("claimed")
        counts: list[Any] = [
            sa.select(sa.func.count()).select_from(cte).scalar_subquery() for cte in (finished, claimed)
        ]
        statement = _FINISH_AND_CLAIM[columns] = sa.select(*counts)
    return statement


def _autocommit(ctx: EngineContext) -> sa.Engine | None:
    """Where a statement that is a transaction by itself runs in autocommit mode; None: use the
    session (:mod:`stask.engine.autocommit`; an action may leave work that its task's end must
    commit with it)."""
    return autocommit_engine(ctx.session(), ctx.db.engine)


def _alone(ctx: EngineContext, statement: sa.Update, params: dict[str, Any]) -> int | None:
    """Run a statement that is a transaction by itself in autocommit mode (see :func:`_autocommit`):
    its row count, or None where it must run in the session."""
    autocommit = _autocommit(ctx)
    if autocommit is None:
        return None
    return run_alone(autocommit, statement, params).rowcount


def _execute_one(ctx: EngineContext, statement: sa.Update, params: dict[str, Any]) -> int:
    """Execute and commit alone, else on the session's connection (no second connection to lock SQLite)."""
    count = _alone(ctx, statement, params)
    if count is not None:
        return count
    session = ctx.session
    count = session.connection().execute(statement, params).rowcount
    session.commit()
    return int(count)


def claim(ctx: EngineContext, info: TaskInfo, now: datetime) -> bool:
    """The one atomic statement that turns a queued row into a running attempt.

    Matching on the attempt count as well as the status makes a job delivered twice,
    a stale job of an earlier attempt, or a job whose task was cancelled, claim nothing.
    """
    due = max(info.created_at, info.start_at or info.created_at)
    params = {
        "task_id": info.id,
        "attempt": info.attempts,
        "next_attempt": info.attempts + 1,
        "now": now,
        "worker": WORKER_NAME,
        "waited_ms": max(0, int((now - due).total_seconds() * 1000)),
    }
    if ctx.held is not None:
        return record_held(ctx, params) == 1
    return _execute_one(ctx, _CLAIM, params) == 1


@dataclass(frozen=True)
class HeldOutcome:
    """A finished attempt whose outcome is recorded with this process's next claim.

    A worker's next job follows at once while its queues hold more: recording the outcome in the
    claim's statement spares a round trip and a commit (a WAL flush on PostgreSQL) per task. Until
    then the attempt's heartbeat goes on, so no reconcile takes it for a dead one; a worker that
    finds its queues empty, runs its maintenance, stops or exits records it first
    (:func:`record_held`). A crash in between loses a simple worker's outcome as a crash during
    the action would (the attempt is retried); a work horse's copy in Redis stays until the
    record (``handed_over``), for reconcile to record. Only a plain finish is held: a retry, a
    failure, a cancellation or an outcome a notification rule wants is recorded at once, as is
    any outcome off PostgreSQL.
    """

    info: TaskInfo
    outcome: Outcome
    run_ms: int
    peak_kb: int | None
    now: datetime
    #: The attempt published live progress: cleared once the row holds the final figures.
    touched: bool
    #: A work horse's copy of the outcome waits in Redis: dropped once the row holds it.
    handed_over: bool = False


def _may_hold(ctx: EngineContext, info: TaskInfo, outcome: Outcome) -> bool:
    if not ctx.hold_outcomes or ctx.held is not None or outcome.status != Status.FINISHED:
        return False
    if _autocommit(ctx) is None:  # not PostgreSQL, or the action left work for the end's transaction
        return False
    hook = ctx.notify_hook
    return hook is None or not hook.wants(info.identifier, info.action, "finished", info.notify)


def record_held(ctx: EngineContext, claiming: dict[str, Any] | None = None) -> int | None:
    """Record the held outcome, with the claim of ``claiming`` (the claim's parameters) in the same
    statement; returns the claim's row count (None: no claim asked). The claim alone without one."""
    held: HeldOutcome | None = ctx.held
    if held is None:
        return None if claiming is None else _execute_one(ctx, _CLAIM, claiming)
    info, outcome = held.info, held.outcome
    autocommit = _autocommit(ctx) if claiming is not None else None
    if autocommit is None:
        record_outcome(ctx, info, outcome, run_ms=held.run_ms, peak_kb=held.peak_kb, now=held.now)
        ctx.held = None
        claimed = None if claiming is None else _execute_one(ctx, _CLAIM, claiming)
    else:
        values, _ = _finish_values(info, outcome, held.run_ms, held.peak_kb, held.now)
        params = {f"{HELD_PREFIX}v_{name}": value for name, value in values.items()}
        params.update({f"{HELD_PREFIX}task_id": info.id, f"{HELD_PREFIX}attempt": info.attempts}, **(claiming or {}))
        counts = run_alone(autocommit, _finish_and_claim(tuple(values)), params).row
        assert counts is not None  # a SELECT of two counts: one row
        finished, claimed = counts
        ctx.held = None  # from here on a retry of this call must not claim again
        if finished:
            _recorded(ctx, info, outcome, values["status"], None, held.run_ms, held.now)
        else:  # a row with follow-up (its own form and transaction), or one decided meanwhile
            ctx.outages.run(
                "recording an outcome",
                lambda: record_outcome(ctx, info, outcome, run_ms=held.run_ms, peak_kb=held.peak_kb, now=held.now),
            )
    if heartbeat.untrack(info.id) or held.touched:
        _clear_live(ctx, info.id)
    if held.handed_over:
        with contextlib.suppress(redis.RedisError):  # recorded: the copy only waits to expire
            take_handed_over(ctx, info)
    return claimed


def warm_up(ctx: EngineContext) -> None:
    """Compile the claim and finish statements and load the active workers in this process.

    A forking worker calls it before its first fork, so every work horse inherits the
    compiled statements, the imported plugin classes and a filled L1 cache instead of
    rebuilding them for each task. The statements match no row (id 0).
    """
    info = TaskInfo(
        id=0,
        identifier="",
        action="",
        data={},
        priority="normal",
        attempts=0,
        max_attempts=1,
        timeout=1,
        created_at=utcnow(),
    )
    claim(ctx, info, info.created_at)
    for outcome in (
        Outcome(Status.FINISHED),
        Outcome(Status.FAILED, error="x", retry=True),
        Outcome(Status.FAILED, error="x"),
    ):
        record_outcome(ctx, replace(info, max_attempts=2), outcome, run_ms=None, peak_kb=None, now=info.created_at)
    for identifier in ctx.workers.active_identifiers():
        definition = ctx.workers.resolve(identifier)
        if definition is not None:
            try:
                definition.worker_class()
            except ImportError:
                pass  # reported when a task of that worker runs
    ctx.db.session.remove()


def is_due(info: TaskInfo, now: datetime) -> bool:
    """Whether an attempt may start: never before its ``start_at``.

    RQ keeps scheduled times in whole seconds, so a job may be delivered up to a second
    early; the worker processes re-schedule such a job instead of running it.
    """
    return info.start_at is None or info.start_at <= now


def execute(
    ctx: EngineContext, payload: dict[str, Any], *, after_claim: Callable[[TaskInfo], None] | None = None
) -> str:
    """Claim, run and record one attempt; ``after_claim`` runs once this process owns it."""
    info = TaskInfo.from_payload(payload)
    delegation = ctx.delegation
    delegated = delegation is not None and (delegation.task_id, delegation.attempt) == (info.id, info.attempts + 1)
    if delegation is not None and delegated:
        if not delegation.claimed:
            return "skipped"
    else:
        now = utcnow()
        if not is_due(info, now):
            return "early"  # not claimed: the worker process re-schedules it (reconcile otherwise)
        if not ctx.outages.run("claiming a task", lambda: claim(ctx, info, now)):
            return "skipped"
    info = replace(info, attempts=info.attempts + 1)
    if after_claim is not None:
        after_claim(info)
    context = TaskContext(task=info, ctx=ctx)
    signals.emit(signals.task_started, info.payload())
    _reset_peak_rss()
    started = time.perf_counter()
    heartbeat.track(info.id, ctx.live)
    tracked, beaten = True, False
    try:
        resolved = delegation.definition if delegated and delegation is not None else None
        outcome = context.outcome = _run_action(ctx, context, resolved)
        run_ms = int((time.perf_counter() - started) * 1000)
        if delegated:
            beaten, tracked = heartbeat.untrack(info.id), False
            if _hand_over(ctx, info, outcome, run_ms, context.touched_redis or beaten):
                return Status(outcome.status).text
            heartbeat.track(info.id, ctx.live)
            tracked = True
        # Held here (in memory) through a database outage, then recorded: never lost, never re-run.
        # The heartbeat goes on meanwhile, so no reconcile takes the held attempt for a dead one.
        peak_kb, finished_at = _peak_rss_kb(), utcnow()
        if _may_hold(ctx, info, outcome):  # recorded with the next claim; it beats on until then
            ctx.held = HeldOutcome(info, outcome, run_ms, peak_kb, finished_at, context.touched_redis)
            tracked = False
            return Status(outcome.status).text
        ctx.outages.run(
            "recording an outcome",
            lambda: record_outcome(ctx, info, outcome, run_ms=run_ms, peak_kb=peak_kb, now=finished_at),
        )
    finally:
        if tracked:
            beaten = heartbeat.untrack(info.id) or beaten
    if context.touched_redis or beaten:  # after the row holds the final figures, so a poll never sees a gap
        _clear_live(ctx, info.id)
    return Status(outcome.status).text


def _clear_live(ctx: EngineContext, task_id: int) -> None:
    """Drop a task's live progress; best effort (it expires anyway, and the row has the figures)."""
    try:
        ctx.live.clear(task_id)
    except redis.RedisError:
        pass


def _hand_over(ctx: EngineContext, info: TaskInfo, outcome: Outcome, run_ms: int, touched: bool) -> bool:
    """Leave the outcome in Redis for the parent to record; False (record it here) if Redis fails."""
    fields = {
        **asdict(outcome),
        "status": int(outcome.status),
        "run_ms": run_ms,
        "peak_kb": _peak_rss_kb(),
        "at": utcnow().isoformat(),
        "touched": touched,
    }
    delegation = ctx.delegation
    if delegation is not None and delegation.handover_file:
        write_handover_file(delegation.handover_file, fields)
    try:
        ctx.live.put_outcome(info.id, info.attempts, fields)
    except redis.RedisError:
        return False  # recorded by the horse itself (the parent's later try changes nothing)
    return True


def write_handover_file(path: str, fields: dict[str, Any]) -> None:
    """The outcome for the parent on this machine; best effort (Redis holds it too)."""
    try:
        partial = f"{path}.partial"
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(fields, out)
        os.replace(partial, path)
    except OSError:
        pass


def read_handover_file(path: str) -> dict[str, Any] | None:
    """The outcome a horse wrote to ``path`` (the file is removed), or None."""
    try:
        with open(path, encoding="utf-8") as source:
            fields: dict[str, Any] = json.load(source)
    except (OSError, ValueError):
        return None
    finally:
        for leftover in (path, f"{path}.partial"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    return fields


def take_handed_over(ctx: EngineContext, info: TaskInfo) -> dict[str, Any] | None:
    """The outcome a work horse left for attempt ``info.attempts`` (removed from Redis), or None."""
    return ctx.live.take_outcome(info.id, info.attempts)


def _handed_over_outcome(fields: dict[str, Any]) -> Outcome:
    return Outcome(Status(fields["status"]), fields["message"], fields["result"], fields["error"], fields["retry"])


def hold_handed_over(ctx: EngineContext, info: TaskInfo, fields: dict[str, Any], copied: bool) -> bool:
    """Hold a work horse's plain finish for the parent's next claim (:class:`HeldOutcome`); False:
    record it now. ``copied``: its copy in Redis is still there (dropped once recorded)."""
    outcome = _handed_over_outcome(fields)
    if not _may_hold(ctx, info, outcome):
        return False
    heartbeat.track(info.id, ctx.live)
    at = datetime.fromisoformat(fields["at"])
    ctx.held = HeldOutcome(info, outcome, fields["run_ms"], fields["peak_kb"], at, fields["touched"], copied)
    return True


def record_fields(ctx: EngineContext, info: TaskInfo, fields: dict[str, Any]) -> bool:
    """Record an outcome taken with :func:`take_handed_over`; returns whether the row changed."""
    changed = record_outcome(
        ctx,
        info,
        _handed_over_outcome(fields),
        run_ms=fields["run_ms"],
        peak_kb=fields["peak_kb"],
        now=datetime.fromisoformat(fields["at"]),
    )
    if fields["touched"]:
        _clear_live(ctx, info.id)
    return changed


def record_handed_over(ctx: EngineContext, info: TaskInfo) -> bool:
    """Record the outcome a work horse left, if any (False when it left none)."""
    fields = take_handed_over(ctx, info)
    if fields is None:
        return False
    record_fields(ctx, info, fields)
    return True


def _run_action(ctx: EngineContext, context: TaskContext, resolved: WorkerDefinition | None = None) -> Outcome:
    """Run the action; ``resolved`` is the definition a fork parent looked up for this attempt."""
    info = context.task
    definition = resolved if resolved is not None else ctx.workers.resolve(info.identifier)
    if definition is None:
        return Outcome(Status.FAILED, error=f"worker {info.identifier!r} is not registered: run `flask stask discover`")
    if not definition.active:
        return Outcome(Status.FAILED, error=f"worker {info.identifier!r} is inactive: activate it and retry the task")
    try:
        cls = definition.worker_class()
    except WorkerUnavailable as exc:  # a deploy may fix it: the attempt fails, later ones may run
        context.log(str(exc))
        return Outcome(Status.FAILED, error=str(exc), retry=True)
    method = cls.action_callable(info.action)
    if method is None:
        return Outcome(Status.FAILED, error=f"worker {info.identifier!r} has no action {info.action!r}")
    try:
        worker = cls(context, definition.settings())
        getattr(worker, method.__name__)(info, dict(info.data or {}))
    except TaskStopped:
        context.log("Stopped on request")
        return Outcome(Status.CANCELLED, message="Stopped on request")
    except JobTimeoutException:
        message = f"timed out after {info.timeout} s"
        context.log(message)
        return Outcome(Status.FAILED, error=message, retry=True)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        context.log(f"Attempt {info.attempts} failed\n{traceback.format_exc()}")
        return Outcome(Status.FAILED, error=message, retry=True)
    return context.outcome or Outcome(Status.FINISHED)


def record_outcome(
    ctx: EngineContext,
    info: TaskInfo,
    outcome: Outcome,
    *,
    run_ms: int | None,
    peak_kb: int | None,
    now: datetime,
) -> bool:
    """The finish statement (and, for a retry, the scheduling of the next attempt).

    Guarded by status and attempt so that a late finish never overwrites a decision the
    reconcile step already made about this attempt. Returns whether the row changed.
    """
    values, delay = _finish_values(info, outcome, run_ms, peak_kb, now)
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(task_id=info.id, attempt=info.attempts)
    retrying = delay is not None
    event = _event_name(outcome, retrying)
    hook = ctx.notify_hook
    notices: list[dict[str, Any]] = []
    notify = None
    if hook is not None and hook.wants(info.identifier, info.action, event, info.notify):
        subject = f"task:{info.id}:attempt:{info.attempts}" if event == "retrying" else f"task:{info.id}"

        def notify() -> None:
            notices.extend(hook.record(info.id, event, subject, now))

    released = _record(ctx, tuple(values), params, values["status"], now, notify)
    if released is None:
        return False
    _recorded(ctx, info, outcome, values["status"], delay, run_ms, now)
    if released and ctx.end_hook is not None:
        ctx.end_hook.dispatch(released, now)
    if notices and hook is not None:
        hook.dispatch(notices, now)
    return True


def _finish_values(
    info: TaskInfo, outcome: Outcome, run_ms: int | None, peak_kb: int | None, now: datetime
) -> tuple[dict[str, Any], float | None]:
    """The row's new values for ``outcome``, and the delay before the next attempt (None: no retry)."""
    values: dict[str, Any] = {"run_ms": run_ms, "peak_memory_kb": peak_kb}
    if outcome.status == Status.FAILED and outcome.retry and info.attempts < info.max_attempts:
        delay = backoff_delay(info.attempts, *info.backoff)
        values.update(
            status=int(Status.QUEUED),
            start_at=now + timedelta(seconds=delay),
            error=outcome.error,
            message=f"Attempt {info.attempts} of {info.max_attempts} failed; retrying in {delay:.1f} s",
        )
        return values, delay
    if outcome.status == Status.FINISHED:
        values.update(
            status=int(Status.FINISHED),
            progress=100,
            finished_at=now,
            message=(outcome.message or "Finished")[:1000],
            result=outcome.result,
            error=None,
        )
    else:
        values.update(
            status=int(outcome.status),
            finished_at=now,
            message=(outcome.message or outcome.error or outcome.status.text)[:1000],
            error=outcome.error,
        )
    return values, None


def _recorded(
    ctx: EngineContext,
    info: TaskInfo,
    outcome: Outcome,
    status: int,
    delay: float | None,
    run_ms: int | None,
    now: datetime,
) -> None:
    """What follows a recorded outcome: its log line, the next attempt's job, the signal."""
    log_decision(info, outcome, delay)
    signalled = {**info.payload(), "status": status, "error": outcome.error, "run_ms": run_ms}
    if delay is not None:
        try:
            ctx.transport.enqueue([{**info.payload(), "start_at": now + timedelta(seconds=delay)}], now)
        except redis.RedisError:
            pass  # the row says queued: the reconcile step enqueues it once Redis is back
        signals.emit(signals.task_retried, signalled)
    elif outcome.status == Status.FINISHED:
        signals.emit(signals.task_finished, signalled)
    elif outcome.status == Status.CANCELLED:
        signals.emit(signals.task_cancelled, signalled)
    else:
        signals.emit(signals.task_failed, signalled)


def log_decision(info: TaskInfo, outcome: Outcome, retry_delay: float | None) -> None:
    """What stask recorded for this attempt, in one line: what RQ's "Job OK" cannot say, since
    every attempt returns normally to RQ, failed or not."""
    if retry_delay is not None:
        log.info(
            "task %s retrying in %.1f s (attempt %s of %s): %s",
            info.id,
            retry_delay,
            info.attempts,
            info.max_attempts,
            _first_line(outcome.error),
        )
    elif outcome.status == Status.FINISHED:
        log.info("task %s finished", info.id)
    elif outcome.status == Status.CANCELLED:
        log.info("task %s cancelled", info.id)
    else:
        log.warning("task %s failed: %s", info.id, _first_line(outcome.error or outcome.message))


def _first_line(text: str | None, limit: int = 300) -> str:
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _event_name(outcome: Outcome, retrying: bool) -> str:
    """The notification event an outcome is: ``failed`` only after the last attempt."""
    if retrying:
        return "retrying"
    if outcome.status == Status.FINISHED:
        return "finished"
    if outcome.status == Status.CANCELLED:
        return "cancelled"
    return "failed"


def _record(
    ctx: EngineContext,
    columns: tuple[str, ...],
    params: dict[str, Any],
    status: int,
    now: datetime,
    notify: Callable[[], None] | None = None,
) -> list[dict[str, Any]] | None:
    """Run the finish statement and commit; None if the row was not this attempt's to finish.

    A row without follow-up is finished by one statement. Otherwise the second form finishes it
    and, in the same transaction, the end hook releases its dependents and moves its group, so
    a crash can never record the end without its consequences (or the reverse). ``notify``
    (only when a notification rule may match) records the event's deliveries in that same
    transaction. Returns the payloads to enqueue after the commit.
    """
    # No notification to record with it: the plain form alone, when it matches, is the whole transaction.
    alone = None if notify is not None else _alone(ctx, _finish_statement(columns), params)
    if alone == 1:
        return []
    session = ctx.session
    connection = session.connection()
    released: list[dict[str, Any]] = []
    follow_up = False
    if alone == 0 or connection.execute(_finish_statement(columns), params).rowcount != 1:
        if connection.execute(_finish_statement(columns, follow_up=True), params).rowcount != 1:
            session.commit()
            return None
        follow_up = True
    try:
        if follow_up and Status(status).is_final and ctx.end_hook is not None:
            released = ctx.end_hook.ended([(int(params["task_id"]), status)], now)
        if notify is not None:
            notify()
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return released
