"""The RQ transport: three queues named after the priorities, jobs that only carry a task.

A job id is ``stask-<task id>-<attempt number>``, so the reconcile step can tell
whether a queued row still has a live job, and a stale job of an older attempt can
never claim a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from rq import Queue, Worker
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.utils import utcparse

from ..enums import QUEUE_ORDER
from . import bulk_jobs

#: Dotted path of the function every job runs (kept stable: jobs in Redis refer to it by name).
JOB_FUNCTION = "stask.engine.runner.run_task"
#: Seconds a finished job's hash stays in Redis (the row is the record; nothing reads it). Not 0:
#: with 0, RQ deletes each job as it finishes (``Job.delete`` walks the execution registries),
#: about 13 % of a no-op task's time, a path bare RQ (default 500 s) never takes. Short, so
#: finished jobs hold little memory; RQ's maintenance trims its finished-job registry.
RESULT_TTL = 10
FAILURE_TTL = 7 * 86400


def job_id(task_id: int, attempt: int) -> str:
    return f"stask-{task_id}-{attempt}"


def at_front(payload: dict[str, Any]) -> bool:
    """A retry (an attempt after the first) goes to the front of its queue: see :meth:`Transport.enqueue`."""
    return payload["attempts"] > 0


def description(payload: dict[str, Any]) -> str:
    """What ``rq info`` and RQ's logs show of a job."""
    return f"stask task {payload['id']} {payload['identifier']}.{payload['action']}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _whole_second_after(moment: datetime) -> datetime:
    """RQ scores scheduled jobs in whole seconds, rounding down: round up instead, never early."""
    moment = _aware(moment)
    if moment.microsecond == 0:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=1)


#: Remove a job's queued and scheduled copies; delete its hash only if a copy was removed (then no
#: worker holds it). KEYS: the job hash, then queue lists and scheduled sets alternately; ARGV[1]: id.
_DISCARD = """
local removed = 0
for i = 2, #KEYS, 2 do
  removed = removed + redis.call('LREM', KEYS[i], 0, ARGV[1])
  removed = removed + redis.call('ZREM', KEYS[i + 1], ARGV[1])
end
if removed > 0 then redis.call('DEL', KEYS[1]) end
return removed
"""


class Transport:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_ORDER}
        self._discard = connection.register_script(_DISCARD)

    def ordered_queues(self, names: Iterable[str] | None = None) -> list[Queue]:
        return [self.queues[name] for name in (names or QUEUE_ORDER)]

    def enqueue(self, payloads: list[dict[str, Any]], now: datetime, *, reschedule: bool = False) -> None:
        """Enqueue (or schedule, for a future ``start_at``) every payload.

        Due jobs go out in one write (:mod:`stask.engine.bulk_jobs`: the keys RQ's
        ``enqueue_many`` writes, without its per-job cost); jobs due later, and with
        ``reschedule`` the removal of overdue scheduled copies, in one pipeline before it.

        A retry (an attempt after the first) goes to the front of its priority's queue, now or
        when the scheduler moves it there (RQ honours the job's ``enqueue_at_front``): a due
        retry never waits behind work created after it.
        """
        if not payloads:
            return
        due = [p for p in payloads if not (p.get("start_at") and p["start_at"] > now)]
        later = [p for p in payloads if p.get("start_at") and p["start_at"] > now]
        if later or (reschedule and due):
            pipe = self.connection.pipeline()
            for payload in later:
                self._schedule(payload, pipe)
            if reschedule:  # an overdue scheduled copy would otherwise be delivered a second time
                for name, queue in self.queues.items():
                    ids = [job_id(p["id"], p["attempts"] + 1) for p in due if p["priority"] == name]
                    if ids:
                        pipe.zrem(ScheduledJobRegistry(queue=queue).key, *ids)
            pipe.execute()
        if due:
            writes, replies = bulk_jobs.encode(map(self._bulk_job, due), bulk_jobs.JobWriter(RESULT_TTL, FAILURE_TTL))
            bulk_jobs.write(self.connection, writes, replies)

    def _bulk_job(self, payload: dict[str, Any]) -> bulk_jobs.BulkJob:
        queue = self.queues[payload["priority"]]
        return bulk_jobs.BulkJob(
            job_id=job_id(payload["id"], payload["attempts"] + 1),
            queue_key=queue.key,
            origin=queue.name,
            func_name=JOB_FUNCTION,
            args=(payload,),
            description=description(payload),
            timeout=payload["timeout"],
            at_front=at_front(payload),
        )

    def _schedule(self, payload: dict[str, Any], pipe: Any) -> None:
        """RQ's own scheduling of a job due later (rare in bulk: kept on RQ's path)."""
        queue = self.queues[payload["priority"]]
        job = queue.create_job(
            JOB_FUNCTION,
            args=(payload,),
            timeout=payload["timeout"],
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            job_id=job_id(payload["id"], payload["attempts"] + 1),
            description=description(payload),
        )
        job.enqueue_at_front = at_front(payload)
        queue.schedule_job(job, _whole_second_after(payload["start_at"]), pipeline=pipe)

    def live_job_ids(self, overdue_after: float | None = None, silent_after: float | None = None) -> set[str]:
        """Every job id queued, scheduled or executing on our queues.

        With ``overdue_after`` (seconds), a scheduled job that should have been moved to its
        queue longer ago than that does not count: no scheduler is running to move it.

        With ``silent_after`` (seconds), a job in RQ's started registry counts only while the
        worker process that took it is alive: its ``rq:worker:<name>`` hash exists, records no
        death, and its last heartbeat is at most that old. (The registry entry itself expires
        only after the job's timeout, so a job popped by a worker killed before it claimed its
        task would otherwise look live for half an hour.)
        """
        pipe = self.connection.pipeline(transaction=False)
        lowest = "-inf" if overdue_after is None else time.time() - overdue_after
        for queue in self.queues.values():
            pipe.lrange(queue.key, 0, -1)
            pipe.zrangebyscore(ScheduledJobRegistry(queue=queue).key, lowest, "+inf")
            pipe.zrange(StartedJobRegistry(queue=queue).key, 0, -1)
        ids: set[str] = set()
        started: list[str] = []
        for index, members in enumerate(pipe.execute()):
            for member in members:
                text = member.decode() if isinstance(member, bytes) else member
                if index % 3 == 2:
                    started.append(text)  # "<job id>:<execution id>" in RQ 2+
                else:
                    ids.add(text)
        if silent_after is None:
            ids.update(member.split(":", 1)[0] for member in started)
        else:
            ids.update(self._held_by_live_workers(started, silent_after))
        return ids

    def _held_by_live_workers(self, members: list[str], silent_after: float) -> set[str]:
        """Job ids of started-registry members whose worker process still beats (two pipelines)."""
        if not members:
            return set()
        pipe = self.connection.pipeline(transaction=False)
        for member in members:
            pipe.hget(f"rq:execution:{member}", "worker_name")  # RQ 3 keeps the worker with the execution
        names = [None if raw is None else (raw.decode() if isinstance(raw, bytes) else raw) for raw in pipe.execute()]
        for name in names:
            if name:
                pipe.hmget(f"{Worker.redis_worker_namespace_prefix}{name}", "last_heartbeat", "death")
        replies = iter(pipe.execute())
        oldest = datetime.now(timezone.utc) - timedelta(seconds=silent_after)
        live: set[str] = set()
        for member, name in zip(members, names, strict=True):
            if not name:
                continue
            beat, death = next(replies)
            if beat is None or death is not None:
                continue
            if _aware(utcparse(beat.decode() if isinstance(beat, bytes) else beat)) >= oldest:
                live.add(member.split(":", 1)[0])
        return live

    def discard(self, job_ids: Iterable[str]) -> int:
        """Drop the queued and scheduled copies of jobs that no longer need to run (their task was
        run or cancelled elsewhere). A job a worker already took is left alone: its hash is deleted
        only together with a copy that no worker can hold, so RQ's bookkeeping in that worker never
        meets a missing job (the claim makes the worker skip it). Returns how many copies went."""
        removed = 0
        keys: list[str] = []
        for queue in self.queues.values():
            keys += [queue.key, ScheduledJobRegistry(queue=queue).key]
        for jid in job_ids:
            removed += int(self._discard(keys=[f"rq:job:{jid}", *keys], args=[jid]))
        return removed

    def defer(self, payload: dict[str, Any]) -> None:
        """Schedule again a job delivered before its ``start_at`` (the same job id)."""
        self.enqueue([payload], datetime.now(timezone.utc).replace(tzinfo=None))

    def stop_job(self, jid: str) -> bool:
        """Ask a forking worker to kill the work horse running ``jid`` (others ignore it)."""
        try:
            send_stop_job_command(self.connection, jid)
        except (InvalidJobOperation, NoSuchJobError):
            return False
        return True

    def depth(self) -> dict[str, int]:
        pipe = self.connection.pipeline(transaction=False)
        for queue in self.queues.values():
            pipe.llen(queue.key)
        return dict(zip(self.queues, pipe.execute(), strict=True))
