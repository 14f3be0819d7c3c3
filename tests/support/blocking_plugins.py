"""A worker plugin whose task reports progress, then blocks until the test releases it.

So a test can look at a task that is *really* running in a worker process — its live progress,
its stop flag — without racing its end: nothing ends until the test says so. Register it with
``@pytest.mark.app_config(STASK_WORKERS=BLOCKING_WORKERS)`` (the spawned worker process gets
``STASK_WORKERS`` from the app's config).

The action waits on a Redis list (``BLPOP``: an event, not a poll) named by :func:`release_key`;
:func:`release` pushes to it. After the release it reports progress once more, which is where a
cooperative stop request is noticed (``push_progress`` raises ``TaskStopped``).
"""

from __future__ import annotations

from typing import Any

import redis
from flask import current_app

from stask import BaseWorker
from tests.support.apps import TEST_WORKERS

#: How long an unreleased task waits before it fails by itself (a test that forgot to release).
HOLD_LIMIT = 60
STEPS = 4
HOLDING = "holding until released"


def release_key(task_id: int) -> str:
    return f"test:release:{task_id}"


def release(client: redis.Redis, task_id: int) -> None:
    client.rpush(release_key(task_id), 1)


class BlockingWorker(BaseWorker):
    identifier = "blocking"
    scope = "tests"
    title = "Blocking"
    description = "Reports progress, then holds until the test releases it."
    max_attempts = 1

    def task_hold(self, task: Any, options: dict[str, Any]) -> None:
        self.push_progress(processed=1, total=STEPS, message=HOLDING)
        # redis-py 8 gives up reading after 5 s by default: the wait's own limit is HOLD_LIMIT.
        with redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=HOLD_LIMIT + 5) as connection:
            released = connection.blpop([release_key(task.id)], timeout=HOLD_LIMIT)
        if released is None:
            self.mark_failed(f"never released within {HOLD_LIMIT} s")
            return
        self.push_progress(processed=STEPS, total=STEPS, message="released")  # a stop request ends it here
        self.mark_finished("released")


BLOCKING_WORKERS = f"{TEST_WORKERS},tests.support.blocking_plugins:BlockingWorker"
