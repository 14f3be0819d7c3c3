"""The RQ transport: three queues named after the priorities, jobs that only carry a task.

A job id is ``stask-<task id>-<attempt number>``, so the reconcile step can tell
whether a queued row still has a live job, and a stale job of an older attempt can
never claim a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from ..enums import QUEUE_ORDER

#: Dotted path of the function every job runs (kept stable: jobs in Redis refer to it by name).
JOB_FUNCTION = "stask.engine.runner.run_task"
#: Successful jobs leave nothing behind in Redis: the row is the record.
RESULT_TTL = 0
FAILURE_TTL = 7 * 86400


def job_id(task_id: int, attempt: int) -> str:
    return f"stask-{task_id}-{attempt}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


class Transport:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_ORDER}

    def ordered_queues(self, names: Iterable[str] | None = None) -> list[Queue]:
        return [self.queues[name] for name in (names or QUEUE_ORDER)]

    def enqueue(self, payloads: list[dict[str, Any]], now: datetime, *, reschedule: bool = False) -> None:
        """Enqueue (or schedule, for a future ``start_at``) every payload in one pipeline."""
        if not payloads:
            return
        pipe = self.connection.pipeline()
        immediate: dict[str, list[Any]] = {}
        for payload in payloads:
            queue = self.queues[payload["priority"]]
            data = Queue.prepare_data(
                JOB_FUNCTION,
                args=(payload,),
                timeout=payload["timeout"],
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                job_id=job_id(payload["id"], payload["attempts"] + 1),
                description=f"stask task {payload['id']} {payload['identifier']}.{payload['action']}",
            )
            start_at = payload.get("start_at")
            if start_at and start_at > now:
                job = queue.create_job(
                    data.func,
                    args=data.args,
                    timeout=data.timeout,
                    result_ttl=data.result_ttl,
                    failure_ttl=data.failure_ttl,
                    job_id=data.job_id,
                    description=data.description,
                )
                queue.schedule_job(job, _aware(start_at), pipeline=pipe)
            else:
                immediate.setdefault(queue.name, []).append(data)
        for name, datas in immediate.items():
            queue = self.queues[name]
            queue.enqueue_many(datas, pipeline=pipe)
            if reschedule:  # an overdue scheduled copy would otherwise be delivered a second time
                pipe.zrem(ScheduledJobRegistry(queue=queue).key, *[d.job_id for d in datas])
        pipe.execute()

    def live_job_ids(self, overdue_after: float | None = None) -> set[str]:
        """Every job id queued, scheduled or executing on our queues (one pipeline).

        With ``overdue_after`` (seconds), a scheduled job that should have been moved to its
        queue longer ago than that does not count: no scheduler is running to move it.
        """
        pipe = self.connection.pipeline(transaction=False)
        lowest = "-inf" if overdue_after is None else time.time() - overdue_after
        for queue in self.queues.values():
            pipe.lrange(queue.key, 0, -1)
            pipe.zrangebyscore(ScheduledJobRegistry(queue=queue).key, lowest, "+inf")
            pipe.zrange(StartedJobRegistry(queue=queue).key, 0, -1)
        ids: set[str] = set()
        for members in pipe.execute():
            for member in members:
                text = member.decode() if isinstance(member, bytes) else member
                # StartedJobRegistry members are "<job id>:<execution id>" in RQ 2+.
                ids.add(text.split(":", 1)[0])
        return ids

    def discard(self, job_ids: Iterable[str]) -> None:
        """Drop jobs that no longer need to run (their task was run or cancelled elsewhere)."""
        ids = list(job_ids)
        if not ids:
            return
        pipe = self.connection.pipeline(transaction=False)
        for queue in self.queues.values():
            for jid in ids:
                pipe.lrem(queue.key, 0, jid)
                pipe.zrem(ScheduledJobRegistry(queue=queue).key, jid)
        for jid in ids:
            pipe.delete(f"rq:job:{jid}")
        pipe.execute()

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
