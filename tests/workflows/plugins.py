"""The worker the workflow tests run: it records the order of its steps and what it saw of its parents."""

from __future__ import annotations

import json
import os
from typing import Any

import redis
from flask import current_app

from stask import BaseWorker
from tests.support.apps import TEST_WORKERS

#: ``STASK_WORKERS`` for the workflow tests: the suite's workers and this one.
FLOW_WORKERS = f"{TEST_WORKERS},tests.workflows.plugins:FlowWorker"
ORDER = "test:flow:order"
SEEN = "test:flow:parents"


class FlowWorker(BaseWorker):
    identifier = "flow"
    scope = "tests"
    title = "Flow"
    description = "Records each step and the parents it saw; writes its label as its result file."

    def task_step(self, task: Any, options: dict[str, Any]) -> None:
        label = str(options.get("label", task.id))
        with redis.Redis.from_url(current_app.config["REDIS_URL"]) as connection:
            connection.rpush(ORDER, label)
            connection.hset(SEEN, label, json.dumps(task.parents))
        path = self.result_path(f"{label}.txt")
        path.write_text(label)
        self.mark_finished(label, result=path)

    def task_fail(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_failed("failed on purpose")


def order(connection: redis.Redis) -> list[str]:
    return [v.decode() for v in connection.lrange(ORDER, 0, -1)]


def seen(connection: redis.Redis, label: str) -> list[dict[str, Any]]:
    raw = connection.hget(SEEN, label)
    return [] if raw is None else list(json.loads(raw))


ENQUEUED = "test:flow:enqueued"


def _count_enqueues() -> None:
    """In worker processes started with ``FLOW_COUNT_ENQUEUES=1``: count every job handed to RQ
    (per job id, in Redis) so a test can tell that a dependent was released exactly once."""
    from stask.engine.queues import Transport

    original = Transport.enqueue

    def counting(self: Transport, payloads: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        original(self, payloads, *args, **kwargs)
        if payloads:
            pipe = self.connection.pipeline(transaction=False)
            for payload in payloads:
                pipe.hincrby(ENQUEUED, f"{payload['id']}-{payload['attempts'] + 1}", 1)
            pipe.execute()

    Transport.enqueue = counting  # type: ignore[method-assign]


if os.environ.get("FLOW_COUNT_ENQUEUES") == "1":
    _count_enqueues()
