"""Tasks: create, read, retry, cancel, delete, list and clean up.

Every method needs an app context (like Flask-SQLAlchemy). Statement counts matter here:
``create`` is one INSERT and one Redis write; ``create_many`` one multi-row INSERT per chunk
of 10,000 rows (plus, on PostgreSQL, one SELECT drawing the ids: ``store.insert_tasks``) and
one Redis write (``stask.engine.bulk_jobs``), however many tasks. Both
also read the worker-cache version once (one ``GET``, see ``stask.workers.registry``).
Neither needs Redis to store the rows: without it, workers are read from the database and
the rows wait, queued, for the reconcile step to enqueue them.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import redis
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from .. import signals
from ..engine.autocommit import autocommit_engine
from ..engine.context import EndHook, NotifyHook
from ..engine.queues import job_id
from ..engine.runner import TaskInfo
from ..enums import CLAIMABLE, Priority, Status
from ..exceptions import InvalidInput, InvalidState, StaskError, TaskNotFound, UnknownAction
from ..models import Task, utcnow
from ..runtime import Runtime
from ..validation import (
    MAX_ATTEMPTS_LIMIT,
    parse_action,
    parse_data,
    parse_datetime,
    parse_digits,
    parse_optional_int,
    parse_positive_int,
)
from . import dependencies, store, workflow_store
from .listing import TaskPage, TaskQuery
from .workers import WorkerService, status_key

log = logging.getLogger("stask")
ProgressCallback = Callable[[int, int], None]
#: Task ids are signed 64-bit integers (``BIGINT``).
MAX_TASK_ID = 2**63 - 1
#: What one spec of :meth:`TaskService.create_many` may say.
SPEC_FIELDS = frozenset(
    {
        "identifier",
        "action",
        "data",
        "priority",
        "user_id",
        "start_at",
        "max_attempts",
        "depends_on",
        "on_parent_failure",
        "notify",
    }
)
#: Prepared values that are not columns: carried to the worker in the job payload, or to linking.
NOT_COLUMNS = ("timeout", "backoff", "depends_on", "notify_rules")
#: Operations :meth:`TaskService.bulk` applies to each id.
BULK_OPERATIONS = ("retry", "cancel", "delete")


class TaskRules(Protocol):
    """Rules given to one task at creation (``notify=[...]``; the notifications part)."""

    def parse_task_notify(self, value: Any) -> list[dict[str, Any]]: ...

    def insert_for_task(self, task_id: int, parsed: list[dict[str, Any]], created_by: str | None) -> None: ...


class TaskService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, workers: WorkerService) -> None:
        self.db = db
        self.runtime = runtime
        self.workers = workers
        #: Set by the service (its workflows part): follows up ends of tasks with dependents or a group.
        self.end_hook: EndHook | None = None
        #: Set by the service (its deliveries part): records the ``cancelled`` event of a cancel.
        self.notify_hook: NotifyHook | None = None
        #: Set by the service (its notifications part): stores the rules of ``notify=[...]``.
        self.task_rules: TaskRules | None = None

    # -- creating ---------------------------------------------------------------------------
    def _prepare(
        self,
        identifier: Any,
        action: Any,
        data: Any = None,
        priority: Any = "normal",
        user_id: Any = None,
        start_at: Any = None,
        max_attempts: Any = None,
        depends_on: Any = None,
        on_parent_failure: Any = None,
        notify: Any = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Validate one task's input; returns the row values (nothing is written)."""
        definition = self.workers.active_definition(identifier)
        cls = definition.worker_class()
        action = parse_action(action)
        if cls.action_callable(action) is None:
            raise UnknownAction(
                f"worker {identifier!r} has no action {action!r}: use one of {', '.join(cls.actions())}"
            )
        settings = self.runtime.settings
        attempts = parse_positive_int(max_attempts, "max_attempts", upper=MAX_ATTEMPTS_LIMIT)
        budget = attempts or cls.max_attempts or settings.max_attempts
        parents = dependencies.parse_depends_on(depends_on)
        policy = dependencies.parse_policy(on_parent_failure)
        rules = self._parse_notify(notify)
        return {
            "identifier": identifier,
            "action": action,
            "data": parse_data(data),
            "priority": Priority.parse(priority).value,
            "user_id": parse_optional_int(user_id, "user_id"),
            "start_at": parse_datetime(start_at),
            "max_attempts": budget,
            "attempt_budget": budget,  # what a retry by hand grants again
            "status": int(Status.QUEUED),
            "progress": 0,
            "attempts": 0,
            "created_at": now or utcnow(),
            "on_parent_failure": policy if parents else None,
            "waiting_parents": 0,
            "follow_up": False,
            "notify": bool(rules),
            # not columns: carried to the worker in the job payload (or stored beside the row)
            "timeout": cls.timeout or settings.timeout,
            "backoff": tuple(cls.backoff or (settings.backoff_base, settings.backoff_cap)),
            "depends_on": parents,
            "notify_rules": rules,
        }

    def _parse_notify(self, notify: Any) -> list[dict[str, Any]]:
        if notify is None:
            return []
        if self.task_rules is None:
            raise InvalidInput("notify is not available: stask's notifications part is not set up")
        return self.task_rules.parse_task_notify(notify)

    def create(
        self,
        identifier: str,
        action: str,
        data: dict[str, Any] | None = None,
        priority: str | Priority = "normal",
        user_id: int | None = None,
        start_at: datetime | str | None = None,
        max_attempts: int | None = None,
        depends_on: list[int] | None = None,
        on_parent_failure: str | None = None,
        notify: list[Any] | None = None,
    ) -> Task:
        """Store a task (status 10) and hand it to RQ. Raises a :class:`StaskError` on bad input.

        With ``depends_on`` (ids of existing tasks) it waits, queued but not handed to RQ, until
        every parent has ended; ``on_parent_failure`` ("cancel", the default, or "run") says
        what a failed or cancelled parent does to it (``docs/workflows.md``). ``notify`` gives it
        notification rules of its own: e-mail addresses, webhook URLs or rule objects
        (``docs/notifications.md``).
        """
        spec: dict[str, Any] = dict(
            identifier=identifier,
            action=action,
            data=data,
            priority=priority,
            user_id=user_id,
            start_at=start_at,
            max_attempts=max_attempts,
        )
        if depends_on is not None:
            spec["depends_on"] = depends_on
        if on_parent_failure is not None:
            spec["on_parent_failure"] = on_parent_failure
        if notify is not None:
            spec["notify"] = notify
        return self.create_many([spec])[0]

    def create_many(self, specs: Iterable[dict[str, Any]]) -> list[Task]:
        """Validate all first (nothing is written if one is bad), then one bulk INSERT and one pipeline.

        Specs that differ only in ``data`` are validated once (their worker, action, priority,
        budget...): only each one's ``data`` is checked again. The returned tasks are built as
        the ORM builds loaded rows, without ``Task.__init__`` (25 µs a row).
        """
        now = utcnow()
        prepared = []
        shapes: dict[Any, dict[str, Any]] = {}
        with self.runtime.workers.pinned():  # one worker-cache version read for the batch; never raises
            for index, spec in enumerate(specs):
                if not isinstance(spec, dict):
                    raise InvalidInput(f"task #{index} must be a dict of create() arguments")
                unknown = set(spec) - SPEC_FIELDS
                if unknown:
                    raise InvalidInput(f"task #{index} has unknown fields: {', '.join(sorted(unknown))}")
                prepared.append(self._prepare_shaped(spec, now, shapes))
        if not prepared:
            return []
        stored = self._stored_alone(prepared)
        if stored is None:
            ids, columns = self.store_prepared(prepared, now)
            self.db.session.commit()
        else:
            ids, columns = stored
        # Task.__init__ would configure the mappers: a process whose first ORM use is this needs it
        sa.orm.configure_mappers()
        new_task = sa.inspect(Task).class_manager.new_instance
        tasks = []
        for task_id, values in zip(ids, columns, strict=True):
            task = new_task()  # transient, as Task(**values) would be, values set as a loaded row's
            task.__dict__.update(values, id=task_id)
            tasks.append(task)
        self.dispatch(ids, prepared, now)
        return tasks

    def _prepare_shaped(self, spec: dict[str, Any], now: datetime, shapes: dict[Any, dict[str, Any]]) -> dict[str, Any]:
        """:meth:`_prepare`, reusing the checks of an earlier spec with the same fields but ``data``.

        The key holds each value's type too: ``1`` and ``True`` are equal in Python, not as input.
        Specs with parents or rules of their own are prepared in full.
        """
        if "depends_on" in spec or "notify" in spec:
            return self._prepare(**spec, now=now)
        try:
            key = tuple(sorted((name, type(value), value) for name, value in spec.items() if name != "data"))
            known = shapes.get(key)
        except TypeError:  # an unhashable value: no shape, full checks
            return self._prepare(**spec, now=now)
        if known is None:
            known = shapes[key] = self._prepare(**spec, now=now)
            return dict(known)
        return {**known, "data": parse_data(spec.get("data")), "depends_on": [], "notify_rules": []}

    def prepare(self, spec: dict[str, Any], now: datetime, **columns: Any) -> dict[str, Any]:
        """One task's row values from ``create()`` arguments, plus extra ``columns`` (a schedule's)."""
        return {**self._prepare(**spec, now=now), **columns}

    def store_prepared(self, prepared: list[dict[str, Any]], now: datetime) -> tuple[list[int], list[dict[str, Any]]]:
        """Link to parents (if any), INSERT, and store the edges, in the caller's transaction.

        Without dependencies this is :meth:`insert_prepared` alone: one INSERT (the budget).
        """
        session = self.db.session
        dependencies.link(session, prepared, now)
        ids, columns = self.insert_prepared(prepared)
        workflow_store.insert_edges(session, dependencies.edges(ids, prepared))
        for task_id, values in zip(ids, prepared, strict=True):
            if values.get("notify_rules") and self.task_rules is not None:
                self.task_rules.insert_for_task(task_id, values["notify_rules"], None)
        return ids, columns

    def _stored_alone(self, prepared: list[dict[str, Any]]) -> tuple[list[int], list[dict[str, Any]]] | None:
        """One task without parents or rules of its own, as a transaction by itself: its INSERT in
        autocommit mode on PostgreSQL (one round trip instead of BEGIN, INSERT and COMMIT, a
        fifth of an idle worker's pickup). None: store it in the session's transaction."""
        if len(prepared) != 1 or prepared[0].get("depends_on") or prepared[0].get("notify_rules"):
            return None
        engine = autocommit_engine(self.db.session(), self.db.engine)
        if engine is None:
            return None
        columns = {k: v for k, v in prepared[0].items() if k not in NOT_COLUMNS}
        return [store.insert_task_alone(engine, columns)], [columns]

    def insert_prepared(self, prepared: list[dict[str, Any]]) -> tuple[list[int], list[dict[str, Any]]]:
        """INSERT prepared rows in the caller's transaction (not committed): (ids, column values)."""
        columns = [{k: v for k, v in p.items() if k not in NOT_COLUMNS} for p in prepared]
        return store.insert_tasks(self.db.session, columns), columns

    def dispatch(self, ids: list[int], prepared: list[dict[str, Any]], now: datetime) -> None:
        """After the commit: hand the runnable jobs to RQ (one pipeline) and announce the new tasks.

        A task waiting on parents is not handed over: the end of its last parent does that.
        """
        payloads = [job_payload(task_id, p) for task_id, p in zip(ids, prepared, strict=True)]
        runnable = [
            payload
            for payload, p in zip(payloads, prepared, strict=True)
            if p["status"] == Status.QUEUED and not p.get("waiting_parents")
        ]
        with_parents = [payload["id"] for payload, p in zip(payloads, prepared, strict=True) if p.get("depends_on")]
        if with_parents and runnable:
            parents = self.parents_of([pid for pid in with_parents if any(r["id"] == pid for r in runnable)])
            for payload in runnable:
                if payload["id"] in parents:
                    payload["parents"] = parents[payload["id"]]
        self.enqueue(runnable, now)
        for payload in payloads:
            signals.emit(signals.task_created, payload)

    def enqueue(self, payloads: list[dict[str, Any]], now: datetime) -> None:
        """Hand jobs to RQ; when Redis is down the rows are safe and reconcile enqueues them later."""
        try:
            self.runtime.transport.enqueue(payloads, now)
        except redis.RedisError as exc:
            log.warning("stask: could not enqueue %d task(s), reconcile will retry: %s", len(payloads), exc)

    def payload_for_row(self, task: Task) -> dict[str, Any]:
        """The job payload for a stored row (re-enqueue, retry, recovery), with the worker's policy."""
        timeout, backoff = self.workers.policy(task.identifier)
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
            "notify": bool(task.notify),
        }

    def payloads_for_rows(self, tasks: list[Task]) -> list[dict[str, Any]]:
        """:meth:`payload_for_row` for many, with the parents of those that have any (one statement)."""
        payloads = [self.payload_for_row(task) for task in tasks]
        parents = self.parents_of([task.id for task in tasks if task.on_parent_failure is not None])
        for payload in payloads:
            if payload["id"] in parents:
                payload["parents"] = parents[payload["id"]]
        return payloads

    def parents_of(self, child_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """What each child's action sees of its parents (``task.parents``): one statement.

        ``result`` is the absolute path of the parent's result file, or None.
        """
        if not child_ids:
            return {}
        storage = self.runtime.storage
        found: dict[int, list[dict[str, Any]]] = {}
        for child, rows in workflow_store.parents_of(self.db.session, child_ids).items():
            found[child] = [
                {
                    "id": int(row.id),
                    "identifier": row.identifier,
                    "action": row.action,
                    "status": int(row.status),
                    "result": str(storage.result_dir(int(row.id)) / row.result) if row.result else None,
                    "message": row.message,
                }
                for row in rows
            ]
        return found

    # -- reading ----------------------------------------------------------------------------
    def get(self, task_id: Any) -> Task:
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

    def stats(self) -> dict[str, int]:
        """Counts by status name, their total, and registered/active workers: two statements."""
        session = self.db.session
        counts = store.counts_by_status(session)
        workers, active = store.worker_counts(session)
        session.commit()
        stats = {status_key(code): 0 for code in Status}
        for code, count in counts.items():
            stats[status_key(code)] = count
        stats["total"] = sum(counts.values())
        stats["workers"] = workers
        stats["active_workers"] = active
        return stats

    def progress(self, task_id: Any, log_lines: int = 20) -> dict[str, Any]:
        """Live figures from Redis while running; the row and the log file once Redis forgot."""
        task = self.get(task_id)
        running = task.status == Status.RUNNING
        live = self.runtime.live.read(task.id) if running else None
        return {
            "id": task.id,
            "status": task.status,
            "status_text": task.status_text,
            **progress_fields(task, live),
            "stop_requested": running and self.runtime.live.stop_requested(task.id),
            "log_lines": self.runtime.storage.tail_log(task.id, log_lines),
        }

    def progress_many(self, tasks: list[Task]) -> dict[int, dict[str, Any]]:
        """Progress figures for a page of tasks: one Redis pipeline for the running ones, rows otherwise."""
        live = self.runtime.live.read_many([t.id for t in tasks if t.status == Status.RUNNING])
        return {t.id: progress_fields(t, live.get(t.id) or None) for t in tasks}

    def page(self, query: TaskQuery) -> TaskPage:
        page = store.task_page(self.db.session, query, self.runtime.settings.list_count_cap)
        self.db.session.commit()
        return page

    def recent(self, limit: int) -> list[Task]:
        tasks = store.recent_tasks(self.db.session, limit)
        self.db.session.commit()
        return tasks

    def failed_count(self) -> int:
        count = store.failed_count(self.db.session)
        self.db.session.commit()
        return count

    def failed_count_capped(self) -> tuple[int, bool]:
        """Failed tasks counted up to the list's cap, and whether there are more (the task list's button)."""
        cap = self.runtime.settings.list_count_cap
        counted = store.capped_count(self.db.session, store.failed_condition(), cap)
        self.db.session.commit()
        return min(counted, cap), counted > cap

    # -- changing ---------------------------------------------------------------------------
    def retry(self, task_id: Any) -> Task:
        """Queue a failed or cancelled task again with its own budget of attempts once more.

        The budget is the ``max_attempts`` it was created with (``attempt_budget``): a task created
        with ``max_attempts=1`` gets one more attempt, not the worker's default. ``attempts`` keeps
        counting (the claim matches it and RQ's job ids carry it), so the allowance becomes
        ``attempts + budget``; the task's message says what was granted.
        """
        task = self.get(task_id)
        if task.status not in (Status.FAILED, Status.CANCELLED):
            raise InvalidState(f"task {task.id} is {task.status_text}: only failed or cancelled tasks can be retried")
        payload = self.payloads_for_rows([task])[0]
        workers_budget = self.workers.max_attempts(task.identifier)  # refuses a worker that no longer loads
        own = task.attempt_budget is not None
        budget = task.attempt_budget if task.attempt_budget is not None else workers_budget
        allowance = task.attempts + budget
        message = retry_message(budget, own)
        now = utcnow()
        session = self.db.session
        status, group_id, has_parents = task.status, task.group_id, task.on_parent_failure is not None
        changed = store.requeue_ended(session, task.id, status, allowance, message, now)
        waiting = 0
        if changed:
            waiting = self.requeued(task.id, status, group_id, has_parents)
        session.commit()
        if not changed:
            raise InvalidState(f"task {task.id} changed meanwhile; reload and try again")
        self.runtime.live.clear(task.id)
        payload.update(max_attempts=allowance, start_at=now)  # due from the retry: its wait counts from now
        if not waiting:
            self.enqueue([payload], now)
        session.refresh(task)
        return task

    def requeued(self, task_id: int, status: int, group_id: int | None, has_parents: bool) -> int:
        """A failed or cancelled task is queued again (in the caller's transaction): its group runs
        again, and it waits for those of its parents that have not ended (ended ones count as
        done: retrying is an explicit decision to run it). Returns how many it waits for."""
        session = self.db.session
        if group_id is not None:
            failed = int(status == Status.FAILED)
            workflow_store.reopen_group(session, group_id, failed, 1 - failed)
        if not has_parents:
            return 0
        waiting = len(workflow_store.unfinished_parent_ids(session, task_id))
        if waiting:
            workflow_store.set_waiting(session, task_id, waiting)
        return waiting

    def retry_failed(self, limit: int) -> tuple[list[int], list[int], bool]:
        """Retry up to ``limit`` failed tasks, oldest first: (retried, skipped, more remain)."""
        ids = store.failed_ids(self.db.session, limit + 1)
        self.db.session.commit()
        retried, skipped = [], []
        for task_id in ids[:limit]:
            try:
                self.retry(task_id)
                retried.append(task_id)
            except StaskError:
                skipped.append(task_id)  # retried or deleted by someone else meanwhile
        return retried, skipped, len(ids) > limit

    def cancel(self, task_id: Any) -> Task:
        """Cancel a queued task at once; ask a running one to stop (it ends as cancelled)."""
        task = self.get(task_id)
        if task.status in CLAIMABLE:
            now = utcnow()
            follow_up = task.follow_up
            changed = store.cancel_waiting(self.db.session, task.id, now)
            released = self._follow_up(task.id, Status.CANCELLED, now) if changed and follow_up else []
            notices = self._notify_cancelled(task, now) if changed else []
            self.db.session.commit()
            if released and self.end_hook is not None:
                self.end_hook.dispatch(released, now)
            if notices and self.notify_hook is not None:
                self.notify_hook.dispatch(notices, now)
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
        task = self.get(task_id)
        if task.status == Status.RUNNING:
            raise InvalidState(f"task {task.id} is running: stop it first")
        now = utcnow()
        # A task deleted before it ended counts as cancelled for its dependents and its group.
        released = self._follow_up(task.id, Status.CANCELLED, now) if task.follow_up and not task.is_final else []
        self.db.session.delete(task)
        self.db.session.commit()
        if released and self.end_hook is not None:
            self.end_hook.dispatch(released, now)
        self.runtime.transport.discard([job_id(task.id, task.attempts + 1)])
        self.remove_files([task.id])

    def _notify_cancelled(self, task: Task, now: datetime) -> list[dict[str, Any]]:
        """The ``cancelled`` event of a task cancelled before it ran (not committed)."""
        hook = self.notify_hook
        if hook is None or not hook.wants(task.identifier, task.action, "cancelled", bool(task.notify)):
            return []
        return hook.record(task.id, "cancelled", f"task:{task.id}", now)

    def _follow_up(self, task_id: int, status: int, now: datetime) -> list[dict[str, Any]]:
        """Release dependents and move the group of a task that ended here (not committed)."""
        if self.end_hook is None:
            return []
        return self.end_hook.ended([(task_id, int(status))], now)

    def bulk(self, operation: str, ids: Iterable[int]) -> tuple[list[int], list[tuple[int, StaskError]]]:
        """Apply retry, cancel or delete to each id: (done, refused with the reason), never all-or-nothing."""
        if operation not in BULK_OPERATIONS:
            raise InvalidInput(f"action must be one of {', '.join(BULK_OPERATIONS)}")
        apply: Callable[[Any], Any] = getattr(self, operation)
        done: list[int] = []
        refused: list[tuple[int, StaskError]] = []
        for task_id in dict.fromkeys(ids):
            try:
                apply(task_id)
                done.append(task_id)
            except StaskError as exc:
                refused.append((task_id, exc))
        return done, refused

    def remove_files(self, task_ids: Iterable[int]) -> None:
        """A task's log, result folder, uploads and live progress."""
        storage = self.runtime.storage
        for task_id in task_ids:
            storage.log_path(task_id).unlink(missing_ok=True)
            shutil.rmtree(storage.result_dir(task_id), ignore_errors=True)
            shutil.rmtree(storage.task_upload_dir(task_id), ignore_errors=True)
            self.runtime.live.clear(task_id)

    def sweep_orphan_files(self, keep: int) -> int:
        """Remove logs and result folders whose task row no longer exists; returns how many paths."""
        storage = self.runtime.storage
        candidates: dict[int, list[Path]] = {}
        for path in (storage.root / "logs").glob("*.log"):
            if path.stem.isdigit():
                candidates.setdefault(int(path.stem), []).append(path)
        for path in (storage.root / "results").glob("*"):
            if path.name.isdigit():
                candidates.setdefault(int(path.name), []).append(path)
        if not candidates:
            return 0
        existing = store.existing_ids(self.db.session, sorted(candidates))
        self.db.session.commit()
        orphans = [task_id for task_id in sorted(candidates) if task_id not in existing and task_id != keep]
        self.remove_files(orphans)
        return sum(len(candidates[task_id]) for task_id in orphans)

    def cleanup(self, days: int = 30, on_progress: ProgressCallback | None = None, batch: int = 1000) -> int:
        """Delete finished, failed and cancelled tasks older than ``days``, with their files."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidInput("days must be a non-negative integer")
        condition = store.ended_before(utcnow() - timedelta(days=days))
        session = self.db.session
        total = store.count_where(session, condition)
        done = 0
        while True:
            ids = store.ids_where(session, condition, batch)
            if not ids:
                break
            store.delete_ids(session, ids)
            session.commit()
            self.remove_files(ids)
            done += len(ids)
            if on_progress:
                on_progress(done, total)
        session.commit()
        return done


#: A job payload's fields (``TaskInfo``'s, in order).
_PAYLOAD_FIELDS = tuple(TaskInfo.__dataclass_fields__.values())


def job_payload(task_id: int, prepared: dict[str, Any]) -> dict[str, Any]:
    """``TaskInfo.from_payload({**prepared, "id": task_id}).payload()``, without building the dataclass."""
    values = {**prepared, "id": task_id}
    payload: dict[str, Any] = {}
    for field in _PAYLOAD_FIELDS:
        if field.name in values:
            payload[field.name] = values[field.name]
        elif field.default_factory is not dataclasses.MISSING:
            payload[field.name] = field.default_factory()
        elif field.default is not dataclasses.MISSING:
            payload[field.name] = field.default
        else:
            raise TypeError(f"a job payload needs {field.name!r}")
    return payload


def progress_fields(task: Task, live: dict[str, str] | None) -> dict[str, Any]:
    """Progress, counts, ETA, message and stop flag: from Redis's live fields, else from the row."""

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
        "message": (live.get("message") or task.message) if live else task.message,
        "stop_requested": bool((live or {}).get("stop_requested")),
    }


def retry_message(budget: int, own: bool) -> str:
    """What a retry by hand granted, as the task's message (stored: in English, as the engine's are)."""
    attempts = "1 more attempt" if budget == 1 else f"{budget} more attempts"
    whose = "its own budget" if own else "the worker's budget"
    return f"Retried by hand: {attempts} ({whose})"
