"""Workflows: groups (batches with one status and one progress bar), chains, following up the end
of a task that has dependents or a group, and why a queued task is not running.

The end of a task with follow-up (dependents, a group) is followed up by :meth:`ended`, in the
transaction that records the end (the runner's finish, a cancel, a delete, reconcile's end of a
dead attempt), so the end and its consequences commit together; the jobs of released tasks are
enqueued right after the commit (:meth:`dispatch`). Costs are in ``docs/workflows.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from rq import Worker as RqWorker

from ..engine.context import NotifyHook
from ..enums import CLAIMABLE, Status
from ..exceptions import GroupNotFound, InvalidInput, InvalidState, StaskError
from ..models import TaskGroup, utcnow
from ..runtime import Runtime
from . import dependencies, workflow_store
from .tasks import SPEC_FIELDS, TaskService
from .workers import WorkerService

log = logging.getLogger("stask")
#: Members one group may hold, and steps one chain.
MAX_MEMBERS = 10_000
MAX_NAME = 120
GROUP_STATUSES = ("running", "finished", "failed", "cancelled")
#: What a group's spec may hold: a task spec, without dependencies of its own.
MEMBER_FIELDS = SPEC_FIELDS - {"depends_on", "on_parent_failure"}
#: Statement batches when following up many ends at once (a cancelled chain, a group).
BATCH = 500


@dataclass
class GroupView:
    """A group as the API and the panel show it."""

    group: TaskGroup
    counts: dict[str, int]
    progress: int
    started_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        started = self.started_at.isoformat() + "Z" if self.started_at else None
        return {**self.group.to_dict(), "counts": self.counts, "progress": self.progress, "started_at": started}


class WorkflowService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, tasks: TaskService, workers: WorkerService) -> None:
        self.db = db
        self.runtime = runtime
        self.tasks = tasks
        self.workers = workers
        #: Set by the service: records ``group_finished`` and cascaded ``cancelled`` events.
        self.notify_hook: NotifyHook | None = None

    # -- following up ends (the engine's EndHook) -----------------------------------------------
    def ended(self, ended: list[tuple[int, int]], now: datetime) -> list[dict[str, Any]]:
        """Tasks ended (id, final status): count them on their groups, release or cancel their
        dependents, iteratively (a cancelled dependent ends too). In the caller's transaction.

        Returns the job payloads to enqueue once committed (released tasks, group callbacks).
        """
        session = self.db.session
        released: list[int] = []
        callbacks: list[dict[str, Any]] = []
        pending = list(ended)
        while pending:
            batch, pending = pending[:BATCH], pending[BATCH:]
            status_of = dict(batch)
            ids = list(status_of)
            by_group: dict[int, list[int]] = {}
            for task_id, group_id in workflow_store.groups_of(session, ids).items():
                by_group.setdefault(group_id, []).append(status_of[task_id])
            for group_id, statuses in sorted(by_group.items()):  # one lock order for every process
                failed = sum(s == Status.FAILED for s in statuses)
                cancelled = sum(s == Status.CANCELLED for s in statuses)
                workflow_store.members_ended(session, group_id, len(statuses), failed, cancelled)
                if workflow_store.end_group(session, group_id, now):
                    callbacks += self._fire_callback(group_id)
                    callbacks += self._notify_group(group_id, now)
            children: dict[int, tuple[int, str, list[int]]] = {}
            for row in workflow_store.waiting_children(session, ids):
                hint, policy, parents = children.get(int(row.child_id), (int(row.waiting_parents), "", []))
                children[int(row.child_id)] = (hint, row.on_parent_failure or "cancel", [*parents, int(row.parent_id)])
            for child_id, (hint, policy, parents) in children.items():
                failing = [p for p in parents if status_of[p] != Status.FINISHED]
                if failing and policy == "cancel":
                    message = dependencies.cancelled_by(failing[0], status_of[failing[0]])
                    if workflow_store.cancel_for_parent(session, child_id, message, now):
                        pending.append((child_id, int(Status.CANCELLED)))
                        if self.notify_hook is not None:
                            callbacks += self.notify_hook.record(child_id, "cancelled", f"task:{child_id}", now)
                    continue
                if workflow_store.count_down(session, child_id, len(parents), hint, now):
                    released.append(child_id)
        payloads = self.tasks.payloads_for_rows(workflow_store.task_rows(session, released))
        return payloads + callbacks

    def dispatch(self, payloads: list[dict[str, Any]], now: datetime) -> None:
        """After the commit: hand released tasks and callbacks to RQ (reconcile does if Redis fails)."""
        self.tasks.enqueue(payloads, now)

    def _notify_group(self, group_id: int, now: datetime) -> list[dict[str, Any]]:
        """The ``group_finished`` event of a group that ended here (whatever its status: the
        group object says finished, failed or cancelled); matched by rules for any worker."""
        if self.notify_hook is None or not self.notify_hook.listening("group_finished"):
            return []
        group = self.db.session.execute(
            sa.select(TaskGroup).where(TaskGroup.id == group_id).execution_options(populate_existing=True)
        ).scalar_one()
        counts = {"failed": group.failed, "cancelled": group.cancelled}
        return self.notify_hook.record_event(
            "group_finished",
            f"group:{group_id}",
            {"task": None, "group": {**group.to_dict(), **counts}},
            now,
            identifier=None,
            action=None,
            group_id=group_id,
        )

    def _fire_callback(self, group_id: int) -> list[dict[str, Any]]:
        """Create the ended group's on_complete or on_failure task (the caller ended it: once)."""
        session = self.db.session
        row = session.execute(sa.select(workflow_store.GROUPS).where(workflow_store.GROUPS.c.id == group_id)).one()
        finished = row.status == "finished"
        spec, column = (row.on_complete, "on_complete_task_id") if finished else (row.on_failure, "on_failure_task_id")
        if not spec or getattr(row, column) is not None:
            return []
        try:
            with session.no_autoflush:
                # created now, not at the finisher's ``now``: that was read before this transaction
                # held its lock, so on SQLite it can precede another member's finish it waited for
                prepared = [self.tasks.prepare(dict(spec), utcnow())]
        except StaskError as exc:  # its worker went away since: the group's end stands
            log.warning("stask: group %s ended %s; its callback cannot be created: %s", group_id, row.status, exc)
            return []
        ids, _ = self.tasks.insert_prepared(prepared)
        workflow_store.set_callback(session, group_id, column, ids[0])
        return [self.tasks.payloads_for_rows(workflow_store.task_rows(session, ids))[0]]

    # -- groups and chains ------------------------------------------------------------------------
    def group(
        self,
        specs: Iterable[dict[str, Any]],
        name: str | None = None,
        on_complete: dict[str, Any] | None = None,
        on_failure: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> TaskGroup:
        """Create a group and its tasks in one transaction; ``on_complete`` runs once when every
        member finished, ``on_failure`` once when all ended and one failed or was cancelled."""
        now = utcnow()
        specs = self._spec_list(specs, "group")
        name = self._name(name, specs)
        callbacks = {"on_complete": on_complete, "on_failure": on_failure}
        session = self.db.session
        prepared: list[dict[str, Any]] = []
        with self.runtime.workers.pinned():
            for label, spec in callbacks.items():
                if spec is not None:
                    self._check_spec(spec, label)
                    self.tasks.prepare(dict(spec), now)  # refused now, not when the group ends
            for index, spec in enumerate(specs):
                self._check_spec(spec, f"task #{index}")
                prepared.append(self.tasks.prepare(spec, now, follow_up=True))
        group_id = workflow_store.insert_group(
            session,
            {
                "name": name,
                "status": "running",
                "total": len(prepared),
                "unfinished": len(prepared),
                "failed": 0,
                "cancelled": 0,
                "on_complete": on_complete,
                "on_failure": on_failure,
                "created_by": created_by,
                "created_at": now,
            },
        )
        for values in prepared:
            values["group_id"] = group_id
        ids, _ = self.tasks.insert_prepared(prepared)
        session.commit()
        self.tasks.dispatch(ids, prepared, now)
        group = session.get(TaskGroup, group_id)
        assert group is not None
        return group

    def chain(self, specs: Iterable[dict[str, Any]]) -> list[int]:
        """Create tasks that run one after the other, in one transaction: each step depends on the
        one before (``on_parent_failure`` cancel) and sees its result in ``task.parents``."""
        now = utcnow()
        specs = self._spec_list(specs, "chain")
        prepared: list[dict[str, Any]] = []
        with self.runtime.workers.pinned():
            for index, spec in enumerate(specs):
                self._check_spec(spec, f"task #{index}")
                last = index == len(specs) - 1
                columns: dict[str, Any] = {"follow_up": not last}
                if index:
                    columns.update(on_parent_failure="cancel", waiting_parents=1)
                prepared.append(self.tasks.prepare(spec, now, **columns))
        session = self.db.session
        ids, _ = self.tasks.insert_prepared(prepared)
        workflow_store.insert_edges(session, list(zip(ids, ids[1:], strict=False)))
        session.commit()
        self.tasks.dispatch(ids, prepared, now)
        return ids

    @staticmethod
    def _spec_list(specs: Any, kind: str) -> list[dict[str, Any]]:
        listed = list(specs) if isinstance(specs, Iterable) and not isinstance(specs, (str, bytes, dict)) else []
        if not listed:
            raise InvalidInput("tasks must be a non-empty list of task specs")
        if len(listed) > MAX_MEMBERS:
            raise InvalidInput(f"a {kind} may hold at most {MAX_MEMBERS} tasks")
        return listed

    @staticmethod
    def _check_spec(spec: Any, label: str) -> None:
        if not isinstance(spec, dict):
            raise InvalidInput(f"{label} must be an object of create() arguments")
        unknown = set(spec) - MEMBER_FIELDS
        if unknown:
            raise InvalidInput(f"{label} has unknown fields: {', '.join(sorted(map(str, unknown)))}")

    @staticmethod
    def _name(name: Any, specs: list[Any]) -> str:
        if name is None:
            first = specs[0] if isinstance(specs[0], dict) else {}
            return f"{first.get('identifier', 'group')} x{len(specs)}"[:MAX_NAME]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput(f"name must be a non-empty string of at most {MAX_NAME} characters")
        return name.strip()

    # -- reading groups -----------------------------------------------------------------------------
    def get_group(self, group_id: Any) -> TaskGroup:
        if isinstance(group_id, bool) or not isinstance(group_id, int) or not 1 <= group_id <= 2**63 - 1:
            raise InvalidInput("group id must be a positive integer")
        group = self.db.session.get(TaskGroup, group_id)
        if group is None:
            raise GroupNotFound(f"no group {group_id}")
        return group

    def view(self, group_id: Any) -> GroupView:
        """A group with its counts by status and its progress: three statements and one pipeline."""
        group = self.get_group(group_id)
        return self.views([group])[0]

    def views(self, groups: list[TaskGroup]) -> list[GroupView]:
        """Counts for many groups in one grouped statement; progress from Redis only for running members."""
        session = self.db.session
        counts = workflow_store.group_counts(session, [g.id for g in groups])
        started = (
            dict(
                session.execute(
                    sa.select(workflow_store.TASKS.c.group_id, sa.func.min(workflow_store.TASKS.c.started_at))
                    .where(workflow_store.TASKS.c.group_id.in_([g.id for g in groups]))
                    .group_by(workflow_store.TASKS.c.group_id)
                ).all()
            )
            if groups
            else {}
        )
        views = []
        for group in groups:
            by_status = counts.get(group.id, {})
            progress = self._progress(group, by_status)
            named = {code.text: 0 for code in Status}
            for code, count in by_status.items():
                named[Status(code).text] = count
            views.append(GroupView(group, named, progress, started.get(group.id)))
        session.commit()
        return views

    def _progress(self, group: TaskGroup, by_status: dict[int, int]) -> int:
        """0-100: each member weighs the same; ended members count 100, running ones their live
        progress (Redis, one pipeline), queued ones 0."""
        total = sum(by_status.values())
        if not total:
            return 100 if group.status != "running" else 0
        done = sum(count for code, count in by_status.items() if Status(code).is_final) * 100
        if by_status.get(int(Status.RUNNING)):
            running = workflow_store.running_member_progress(self.db.session, group.id)
            try:
                live = self.runtime.live.read_many([task_id for task_id, _ in running])
            except redis.RedisError:
                live = {}
            for task_id, stored in running:
                figures = live.get(task_id) or {}
                done += int(float(figures.get("progress", stored) or 0))
        return min(100, done // total)

    def page(self, page: int = 1, per_page: int = 50) -> tuple[list[GroupView], int]:
        groups, total = workflow_store.group_page(self.db.session, per_page, (page - 1) * per_page)
        return self.views(groups), total

    # -- changing groups ---------------------------------------------------------------------------
    def cancel_group(self, group_id: Any) -> tuple[list[int], list[int]]:
        """Cancel every member that has not ended (running ones are asked to stop): (cancelled, stopping)."""
        group = self.get_group(group_id)
        ids = workflow_store.member_ids(self.db.session, group.id, [*map(int, CLAIMABLE), int(Status.RUNNING)])
        self.db.session.commit()
        cancelled: list[int] = []
        stopping: list[int] = []
        for task_id in ids:
            try:
                task = self.tasks.cancel(task_id)
            except StaskError:
                continue  # ended meanwhile
            (stopping if task.status == Status.RUNNING else cancelled).append(task_id)
        return cancelled, stopping

    def retry_failed(self, group_id: Any) -> list[int]:
        """Retry the members that failed or were cancelled; the group runs again and its callbacks,
        each created at most once, may still come. Retried members whose parents are retried too
        wait for them again."""
        group = self.get_group(group_id)
        session = self.db.session
        ids = workflow_store.member_ids(session, group.id, [int(Status.FAILED), int(Status.CANCELLED)])
        session.commit()
        if not ids:
            raise InvalidState(f"group {group.id} has no failed or cancelled task")
        retried = []
        for task_id in ids:  # parents before children (ids grow): a retried parent makes its child wait
            try:
                self.tasks.retry(task_id)
                retried.append(task_id)
            except StaskError:
                continue
        return retried

    # -- why is it not running ------------------------------------------------------------------------
    def waiting_reason(self, task_id: Any) -> dict[str, Any] | None:
        """The first reason that holds for a queued task, computed when read; None if it is not queued.

        In order: waiting on parents, scheduled for later, retry backoff, worker inactive, no live
        worker process serves its queue, tasks ahead of it in its queue.
        """
        task = self.tasks.get(task_id)
        session = self.db.session
        try:
            if task.status not in CLAIMABLE:
                return None
            if task.waiting_parents:
                parents = workflow_store.unfinished_parent_ids(session, task.id)
                listed = ", ".join(map(str, parents))
                return {"code": "parents", "message": f"waiting for parent tasks {listed} to end", "parents": parents}
            now = utcnow()
            if task.start_at is not None and task.start_at > now:
                until = task.start_at.isoformat() + "Z"
                if task.attempts:
                    return {
                        "code": "retry",
                        "message": f"attempt {task.attempts} failed; the next one waits until {until}",
                        "until": until,
                        "attempt": task.attempts + 1,
                    }
                return {"code": "scheduled", "message": f"scheduled for {until}", "until": until}
            definition = self.workers.resolve(task.identifier)
            if definition is None or not definition.active:
                return {
                    "code": "worker_inactive",
                    "message": f"worker {task.identifier!r} is not active: activate it",
                    "identifier": task.identifier,
                }
            if not self._served(task.priority):
                return {
                    "code": "no_worker",
                    "message": f"no live worker process serves the {task.priority!r} queue: start `flask stask worker`",
                    "queue": task.priority,
                }
            ahead = workflow_store.ahead_in_queue(session, task, now)
            return {
                "code": "queue",
                "message": f"{ahead} task(s) ahead of it in its queue" if ahead else "next in its queue",
                "ahead": ahead,
            }
        finally:
            session.commit()

    # -- the panel's reads ------------------------------------------------------------------------
    def relatives(self, task_id: int, limit: int) -> dict[str, Any]:
        """A task's parents and children (id, identifier, action, status; a deleted task's status is
        None), at most ``limit`` each, and how many there are: two statements."""
        session = self.db.session
        try:
            found: dict[str, Any] = {}
            for side in ("parents", "children"):
                rows, total = workflow_store.relatives(session, task_id, side, limit)
                found[side] = [
                    {
                        "id": int(row.id),
                        "identifier": row.identifier,
                        "action": row.action,
                        "status": Status(row.status) if row.status is not None else None,
                    }
                    for row in rows
                ]
                found[f"{side}_total"] = total
            return found
        finally:
            session.commit()

    def _served(self, queue: str) -> bool:
        """Whether a live RQ worker process listens on ``queue`` (its registration expires when it dies)."""
        try:
            workers = RqWorker.all(connection=self.runtime.redis)
        except redis.RedisError:
            return True  # unknown: say nothing rather than something false
        return any(queue in worker.queue_names() and worker.death_date is None for worker in workers)


__all__ = ["GROUP_STATUSES", "GroupNotFound", "GroupView", "WorkflowService"]
