"""The facade every entry point uses: code, JSON API, panel and CLI call these methods.

Each method needs an app context (like Flask-SQLAlchemy). Statement counts matter here:
``create`` is one INSERT and one Redis pipeline; ``create_many`` one executemany INSERT
(plus, on PostgreSQL, one SELECT drawing the ids) and one pipeline, however many tasks.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
import sqlalchemy as sa
from flask import current_app

from .. import signals
from ..engine.queues import job_id
from ..engine.runner import Outcome, TaskInfo, execute, record_outcome
from ..enums import CLAIMABLE, Priority, Status
from ..exceptions import InactiveWorker, InvalidInput, InvalidState, TaskNotFound, UnknownAction, UnknownWorker
from ..models import Task, Worker, utcnow
from ..validation import (
    MAX_ATTEMPTS_LIMIT,
    parse_action,
    parse_data,
    parse_datetime,
    parse_digits,
    parse_optional_int,
    parse_positive_int,
)
from ..workers import discovery
from ..workers.base import IDENTIFIER_RE
from ..workers.registry import WorkerDefinition

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from ..extension import Runtime

log = logging.getLogger("stask")
ProgressCallback = Callable[[int, int], None]
#: Task ids are signed 64-bit integers (``BIGINT``).
MAX_TASK_ID = 2**63 - 1


class TaskService:
    db: SQLAlchemy

    @property
    def runtime(self) -> Runtime:
        return current_app.extensions["stask.runtime"]  # type: ignore[no-any-return]

    # -- workers ------------------------------------------------------------------------
    def resolve_worker(self, identifier: str) -> WorkerDefinition | None:
        if not _is_identifier(identifier):  # discovery never registers such a name: no lookup needed
            return None
        return self.runtime.workers.get(identifier, self._load_definition)

    def _load_definition(self, identifier: str) -> WorkerDefinition | None:
        row = self.db.session.execute(
            sa.select(Worker.identifier, Worker.class_path, Worker.active, Worker.settings).where(
                Worker.identifier == identifier
            )
        ).first()
        self.db.session.commit()
        if row is None:
            return None
        return WorkerDefinition(row.identifier, row.class_path, bool(row.active), dict(row.settings or {}))

    def _active_definition(self, identifier: Any) -> WorkerDefinition:
        if not isinstance(identifier, str) or not identifier:
            raise InvalidInput("worker identifier must be a non-empty string")
        definition = self.resolve_worker(identifier)
        if definition is None:
            raise UnknownWorker(f"no worker {identifier!r}: check the name or run `flask stask discover`")
        if not definition.active:
            raise InactiveWorker(
                f"worker {identifier!r} is inactive: activate it with `flask stask activate {identifier}`"
            )
        return definition

    def discover_workers(self) -> dict[str, Any]:
        """Register every valid worker class found; report invalid ones with their reason."""
        found = discovery.discover(current_app.config["STASK_WORKERS"])
        session = self.db.session
        existing = {w.identifier: w for w in session.scalars(sa.select(Worker))}
        added, updated = [], []
        auto_active = bool(current_app.config["STASK_AUTO_ACTIVATE"])
        for position, (identifier, cls) in enumerate(sorted(found.workers.items())):
            fields = {
                "class_path": cls.class_path(),
                "scope": cls.scope,
                "title": cls.title or identifier,
                "description": cls.description,
                "icon": cls.icon,
            }
            row = existing.get(identifier)
            if row is None:
                session.add(Worker(identifier=identifier, active=auto_active, position=position, settings={}, **fields))
                added.append(identifier)
            elif any(getattr(row, k) != v for k, v in fields.items()):
                for key, value in fields.items():
                    setattr(row, key, value)
                updated.append(identifier)
        session.commit()
        self.runtime.workers.invalidate()
        missing = sorted(set(existing) - set(found.workers))
        return {
            "added": added,
            "updated": updated,
            "missing": missing,
            "invalid": found.invalid,
            "workers": sorted(found.workers),
        }

    def get_workers(self, active_only: bool = False) -> list[Worker]:
        query = sa.select(Worker).order_by(Worker.position, Worker.identifier)
        if active_only:
            query = query.where(Worker.active.is_(True))
        return list(self.db.session.scalars(query))

    def get_worker(self, identifier: str) -> Worker:
        row = None
        if _is_identifier(identifier):  # e.g. a NUL byte would make PostgreSQL refuse the query
            row = self.db.session.scalar(sa.select(Worker).where(Worker.identifier == identifier))
        if row is None:
            raise UnknownWorker(f"no worker {identifier!r}: check the name or run `flask stask discover`")
        return row

    def _set_active(self, identifier: str, active: bool) -> Worker:
        row = self.get_worker(identifier)
        row.active = active
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    def activate_worker(self, identifier: str) -> Worker:
        return self._set_active(identifier, True)

    def deactivate_worker(self, identifier: str) -> Worker:
        return self._set_active(identifier, False)

    def update_worker_settings(self, identifier: str, values: dict[str, Any]) -> Worker:
        """Validate against ``default_settings`` (same keys, same types) and store."""
        row = self.get_worker(identifier)
        defaults = WorkerDefinition(row.identifier, row.class_path, row.active).worker_class().default_settings
        if not isinstance(values, dict):
            raise InvalidInput("settings must be a JSON object")
        clean: dict[str, Any] = dict(row.settings or {})
        for key, value in values.items():
            if key not in defaults:
                raise InvalidInput(
                    f"unknown setting {key!r}: known settings are {', '.join(sorted(defaults)) or 'none'}"
                )
            clean[key] = coerce_setting(key, value, defaults[key])
        row.settings = clean
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    # -- creating tasks -----------------------------------------------------------------
    def _prepare(
        self,
        identifier: Any,
        action: Any,
        data: Any = None,
        priority: Any = "normal",
        user_id: Any = None,
        start_at: Any = None,
        max_attempts: Any = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Validate one task's input; returns the row values (nothing is written)."""
        definition = self._active_definition(identifier)
        cls = definition.worker_class()
        action = parse_action(action)
        if cls.action_callable(action) is None:
            raise UnknownAction(
                f"worker {identifier!r} has no action {action!r}: use one of {', '.join(cls.actions())}"
            )
        config = current_app.config
        attempts = parse_positive_int(max_attempts, "max_attempts", upper=MAX_ATTEMPTS_LIMIT)
        return {
            "identifier": identifier,
            "action": action,
            "data": parse_data(data),
            "priority": Priority.parse(priority).value,
            "user_id": parse_optional_int(user_id, "user_id"),
            "start_at": parse_datetime(start_at),
            "max_attempts": attempts or cls.max_attempts or int(config["STASK_MAX_ATTEMPTS"]),
            "status": int(Status.QUEUED),
            "progress": 0,
            "attempts": 0,
            "created_at": now or utcnow(),
            # not columns: carried to the worker in the job payload
            "timeout": cls.timeout or int(config["STASK_TIMEOUT"]),
            "backoff": tuple(cls.backoff or (float(config["STASK_BACKOFF_BASE"]), float(config["STASK_BACKOFF_CAP"]))),
        }

    def create(
        self,
        identifier: str,
        action: str,
        data: dict[str, Any] | None = None,
        priority: str | Priority = "normal",
        user_id: int | None = None,
        start_at: datetime | str | None = None,
        max_attempts: int | None = None,
    ) -> Task:
        """Store a task (status 10) and hand it to RQ. Raises a :class:`StaskError` on bad input."""
        return self.create_many(
            [
                dict(
                    identifier=identifier,
                    action=action,
                    data=data,
                    priority=priority,
                    user_id=user_id,
                    start_at=start_at,
                    max_attempts=max_attempts,
                )
            ]
        )[0]

    def create_many(self, specs: Iterable[dict[str, Any]]) -> list[Task]:
        """Validate all first (nothing is written if one is bad), then one bulk INSERT and one pipeline."""
        now = utcnow()
        prepared = []
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise InvalidInput(f"task #{index} must be a dict of create() arguments")
            unknown = set(spec) - {"identifier", "action", "data", "priority", "user_id", "start_at", "max_attempts"}
            if unknown:
                raise InvalidInput(f"task #{index} has unknown fields: {', '.join(sorted(unknown))}")
            prepared.append(self._prepare(**spec, now=now))
        if not prepared:
            return []
        columns = [{k: v for k, v in p.items() if k not in ("timeout", "backoff")} for p in prepared]
        session = self.db.session
        if len(columns) == 1:
            ids = [session.execute(sa.insert(Task).values(**columns[0])).inserted_primary_key[0]]
        else:
            # A Core executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends one
            # multi-row INSERT per batch of rows from a statement compiled once (building a
            # 2,000-row VALUES clause per chunk cost 20x more). Ids within one statement are
            # assigned in row order on all three databases and batches run in order, so
            # sorting them restores the input order.
            ids = _insert_rows(session, columns)
        session.commit()
        tasks = [Task(id=task_id, **values) for task_id, values in zip(ids, columns, strict=True)]
        payloads = [
            TaskInfo.from_payload({**p, "id": task_id}).payload() for task_id, p in zip(ids, prepared, strict=True)
        ]
        self._enqueue(payloads, now)
        for payload in payloads:
            signals.emit(signals.task_created, payload)
        return tasks

    def _enqueue(self, payloads: list[dict[str, Any]], now: datetime) -> None:
        try:
            self.runtime.transport.enqueue(payloads, now)
        except redis.RedisError as exc:
            # The rows are safe; the reconcile step enqueues them once Redis is back.
            log.warning("stask: could not enqueue %d task(s), reconcile will retry: %s", len(payloads), exc)

    def _payload_for_row(self, task: Task) -> dict[str, Any]:
        """The job payload for a stored row (re-enqueue, retry, recovery), with the worker's policy."""
        config = current_app.config
        backoff = (float(config["STASK_BACKOFF_BASE"]), float(config["STASK_BACKOFF_CAP"]))
        timeout = int(config["STASK_TIMEOUT"])
        definition = self.resolve_worker(task.identifier)
        if definition is not None:
            try:
                cls = definition.worker_class()
                backoff = tuple(cls.backoff or backoff)  # type: ignore[assignment]
                timeout = cls.timeout or timeout
            except ImportError:
                pass  # the run will fail with a clear message
        return {
            "id": task.id,
            "identifier": task.identifier,
            "action": task.action,
            "data": task.data or {},
            "priority": task.priority,
            "attempts": task.attempts,
            "max_attempts": task.max_attempts,
            "timeout": timeout,
            "created_at": task.created_at,
            "start_at": task.start_at,
            "user_id": task.user_id,
            "backoff": backoff,
        }

    # -- reading ------------------------------------------------------------------------
    def get_task(self, task_id: Any) -> Task:
        if isinstance(task_id, bool) or not isinstance(task_id, int):
            number = parse_digits(task_id.strip()) if isinstance(task_id, str) else None
            if number is None:
                raise InvalidInput(f"task id must be an integer, got {str(task_id)[:40]!r}")
            task_id = number
        if not 1 <= task_id <= MAX_TASK_ID:  # no such row; the database would refuse the number
            raise TaskNotFound(f"no task {task_id}")
        task = self.db.session.get(Task, task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}")
        return task

    def get_stats(self) -> dict[str, int]:
        counts = dict(self.db.session.execute(sa.select(Task.status, sa.func.count()).group_by(Task.status)).all())
        workers = self.db.session.execute(
            sa.select(sa.func.count(), sa.func.sum(sa.case((Worker.active.is_(True), 1), else_=0)))
        ).one()
        self.db.session.commit()
        stats = {status_key(code): 0 for code in Status}
        for code, count in counts.items():
            stats[status_key(code)] = int(count)
        stats["total"] = sum(int(c) for c in counts.values())
        stats["workers"] = int(workers[0] or 0)
        stats["active_workers"] = int(workers[1] or 0)
        return stats

    def progress(self, task_id: Any, log_lines: int = 20) -> dict[str, Any]:
        """Live figures from Redis while running; the row and the log file once Redis forgot."""
        task = self.get_task(task_id)
        live = self.runtime.live.read(task.id) if task.status == Status.RUNNING else None

        def number(name: str) -> float | None:
            value = (live or {}).get(name)
            return float(value) if value not in (None, "") else None

        processed, total = number("processed"), number("total")
        return {
            "id": task.id,
            "status": task.status,
            "status_text": task.status_text,
            "progress": int(number("progress") or 0) if live else task.progress,
            "processed": int(processed) if processed is not None else None,
            "total": int(total) if total is not None else None,
            "eta": number("eta"),
            "message": (live.get("message") or task.message) if live else task.message,
            "stop_requested": task.status == Status.RUNNING and self.runtime.live.stop_requested(task.id),
            "log_lines": self.runtime.storage.tail_log(task.id, log_lines),
        }

    # -- changing tasks -----------------------------------------------------------------
    def retry(self, task_id: Any) -> Task:
        """Queue a failed or cancelled task again, with a fresh allowance of attempts."""
        task = self.get_task(task_id)
        if task.status not in (Status.FAILED, Status.CANCELLED):
            raise InvalidState(f"task {task.id} is {task.status_text}: only failed or cancelled tasks can be retried")
        payload = self._payload_for_row(task)
        definition = self.resolve_worker(task.identifier)
        policy = (definition and definition.worker_class().max_attempts) or int(
            current_app.config["STASK_MAX_ATTEMPTS"]
        )
        now = utcnow()
        changed = self.db.session.execute(
            sa.update(Task)
            .where(Task.id == task.id, Task.status == task.status)
            .values(
                status=int(Status.QUEUED),
                max_attempts=task.attempts + policy,
                start_at=None,
                finished_at=None,
                progress=0,
                message="Retry requested",
                error=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        self.db.session.commit()
        if not changed:
            raise InvalidState(f"task {task.id} changed meanwhile; reload and try again")
        self.runtime.live.clear(task.id)
        payload.update(max_attempts=task.attempts + policy, start_at=None)
        self._enqueue([payload], now)
        self.db.session.refresh(task)
        return task

    def cancel(self, task_id: Any) -> Task:
        """Cancel a queued task at once; ask a running one to stop (it ends as cancelled)."""
        task = self.get_task(task_id)
        if task.status in CLAIMABLE:
            changed = self.db.session.execute(
                sa.update(Task)
                .where(Task.id == task.id, Task.status.in_([int(s) for s in CLAIMABLE]))
                .values(status=int(Status.CANCELLED), finished_at=utcnow(), message="Cancelled")
                .execution_options(synchronize_session=False)
            ).rowcount
            self.db.session.commit()
            if changed:
                self.runtime.transport.discard([job_id(task.id, task.attempts + 1)])
                signals.emit(signals.task_cancelled, task.to_dict())
            self.db.session.refresh(task)
            if task.status == Status.CANCELLED:
                return task
        if task.status == Status.RUNNING:
            self.runtime.live.request_stop(task.id)
            self.runtime.transport.stop_job(job_id(task.id, task.attempts))
            return task
        raise InvalidState(f"task {task.id} is already {task.status_text}")

    def delete(self, task_id: Any) -> None:
        task = self.get_task(task_id)
        if task.status == Status.RUNNING:
            raise InvalidState(f"task {task.id} is running: stop it first")
        self.db.session.delete(task)
        self.db.session.commit()
        self.runtime.transport.discard([job_id(task.id, task.attempts + 1)])
        self._remove_files([task.id])

    def _remove_files(self, task_ids: Iterable[int]) -> None:
        storage = self.runtime.storage
        for task_id in task_ids:
            storage.log_path(task_id).unlink(missing_ok=True)
            shutil.rmtree(storage.result_dir(task_id), ignore_errors=True)
            shutil.rmtree(storage.task_upload_dir(task_id), ignore_errors=True)
            self.runtime.live.clear(task_id)

    def cleanup(self, days: int = 30, on_progress: ProgressCallback | None = None, batch: int = 1000) -> int:
        """Delete finished, failed and cancelled tasks older than ``days``, with their files."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidInput("days must be a non-negative integer")
        cutoff = utcnow() - timedelta(days=days)
        final = [int(s) for s in (Status.FINISHED, Status.CANCELLED, Status.FAILED)]
        condition = sa.and_(Task.status.in_(final), sa.func.coalesce(Task.finished_at, Task.created_at) < cutoff)
        session = self.db.session
        total = session.scalar(sa.select(sa.func.count()).where(condition)) or 0
        done = 0
        while True:
            ids = list(session.scalars(sa.select(Task.id).where(condition).order_by(Task.id).limit(batch)))
            if not ids:
                break
            session.execute(sa.delete(Task).where(Task.id.in_(ids)).execution_options(synchronize_session=False))
            session.commit()
            self._remove_files(ids)
            done += len(ids)
            if on_progress:
                on_progress(done, total)
        session.commit()
        return done

    # -- running without a worker process (cron path) -------------------------------------
    def process_pending_tasks(self, limit: int | None = None, on_progress: ProgressCallback | None = None) -> int:
        """Reconcile, then run every due queued task here, highest priority first.

        Returns how many finished. The claim makes this safe beside running workers: a
        task a worker already took is skipped.
        """
        self.reconcile()
        now = utcnow()
        rank = sa.case({p.value: p.rank for p in Priority}, value=Task.priority, else_=9)
        query = (
            sa.select(Task)
            .where(Task.status.in_([int(s) for s in CLAIMABLE]))
            .where(sa.or_(Task.start_at.is_(None), Task.start_at <= now))
            .order_by(rank, Task.id)
        )
        if limit:
            query = query.limit(limit)
        tasks = list(self.db.session.scalars(query))
        payloads = [self._payload_for_row(t) for t in tasks]
        self.db.session.commit()
        finished = 0
        for done, payload in enumerate(payloads, 1):
            self.runtime.transport.discard([job_id(payload["id"], payload["attempts"] + 1)])
            with self.runtime.deadline(payload["timeout"]):
                outcome = execute(self, payload)
            finished += outcome == Status.FINISHED.text
            if on_progress:
                on_progress(done, len(payloads))
        return finished

    # -- keeping SQL and Redis in agreement ------------------------------------------------
    def reconcile(self, grace: float = 5.0) -> dict[str, int]:
        """Re-enqueue queued tasks without a live job; retry or fail running tasks whose process died."""
        session = self.db.session
        now = utcnow()
        runtime = self.runtime
        claimable = Task.status.in_([int(s) for s in CLAIMABLE])
        # Two columns, not whole rows: with a backlog this scan covers every queued task, and
        # 50,000 ORM objects every reconcile interval cost a worker megabytes it keeps.
        queued = session.execute(
            sa.select(Task.id, Task.attempts)
            .where(claimable)
            .where(sa.func.coalesce(Task.start_at, Task.created_at) <= now - timedelta(seconds=grace))
            .order_by(Task.id)
            .limit(50_000)
        ).all()
        live_ids = runtime.transport.live_job_ids(overdue_after=grace) if queued else set()
        lost_ids = [row.id for row in queued if job_id(row.id, row.attempts + 1) not in live_ids]
        del queued
        lost = []
        for start in range(0, len(lost_ids), 1000):
            lost.extend(
                session.scalars(
                    sa.select(Task).where(Task.id.in_(lost_ids[start : start + 1000]), claimable).order_by(Task.id)
                )
            )
        payloads = [self._payload_for_row(t) for t in lost]
        ttl = int(current_app.config["STASK_HEARTBEAT_TTL"])
        running = list(
            session.scalars(
                sa.select(Task)
                .where(Task.status == int(Status.RUNNING))
                .where(Task.started_at <= now - timedelta(seconds=ttl))
            )
        )
        alive = runtime.live.alive([t.id for t in running])
        dead = [t for t in running if not alive[t.id]]
        dead_payloads = [(self._payload_for_row(t), runtime.live.stop_requested(t.id)) for t in dead]
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
        changed = record_outcome(self, info, outcome, run_ms=None, peak_kb=None, now=utcnow())
        if changed:
            self.runtime.storage.append_log(info.id, f"[{utcnow():%Y-%m-%d %H:%M:%S}] {outcome.message or reason}")
            self.runtime.live.clear(info.id)
        return int(changed)


def _insert_rows(session: Any, columns: list[dict[str, Any]]) -> list[int]:
    """INSERT many rows; returns their ids in input order.

    PostgreSQL: the ids are drawn from the table's sequence first (one SELECT), then a plain
    executemany INSERT runs in psycopg's pipeline mode (4x faster than INSERT ... RETURNING
    over 10,000 rows). Elsewhere: an executemany with RETURNING, which SQLAlchemy's
    "insertmanyvalues" sends as one multi-row INSERT per batch from a statement compiled
    once; ids within one statement are assigned in row order and batches run in order, so
    sorting them restores the input order.
    """
    table = Task.__table__
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.execute(
                sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(columns)},
            ).scalars()
        )
        session.execute(
            sa.insert(table), [dict(values, id=task_id) for task_id, values in zip(ids, columns, strict=True)]
        )
        return ids
    return sorted(session.execute(sa.insert(table).returning(table.c.id), columns).scalars())


def _is_identifier(identifier: Any) -> bool:
    return isinstance(identifier, str) and IDENTIFIER_RE.fullmatch(identifier) is not None


def status_key(code: int) -> str:
    """Name of a status in statistics: ``pending`` for queued, as in the original."""
    return "pending" if code == Status.QUEUED else Status(code).text


def coerce_setting(key: str, value: Any, default: Any) -> Any:
    """Settings keep the type of their default; form strings are converted."""
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
                    raise ValueError
                return value.lower() in ("true", "1", "on", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # NaN/Infinity are no JSON and break whoever reads the setting
                raise ValueError
            return number
        if kind is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
        if kind in (list, dict):
            if not isinstance(value, kind):
                raise ValueError
            return parse_data({"v": value})["v"]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"setting {key!r} must be of type {kind.__name__}, got {value!r}") from None
    return value
